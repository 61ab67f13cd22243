"""Subprocess for bench_core: open a sealed bundle as a camera does; print time and memory."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from nacl.public import PrivateKey
from nacl.signing import VerifyKey

from underseal.bundle import open_bundle


def main() -> None:
    path, camera_hex, authority_hex, now = sys.argv[1:5]
    camera = PrivateKey(bytes.fromhex(camera_hex))
    authority = VerifyKey(bytes.fromhex(authority_hex))
    start = time.perf_counter()
    # A camera keeps its bundle sealed on disk and opens it from the file.
    with Path(path).open("rb") as sealed:
        bundle = open_bundle(
            sealed,
            camera_id="cam-1",
            camera_key=camera,
            authority=authority,
            now=int(now),
            min_serial=0,
        )
    elapsed = time.perf_counter() - start
    # Resident set size now (VmRSS) and at its highest (VmHWM), from the kernel.
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    rss = int(status["VmRSS"].split()[0]) * 1024
    peak = int(status["VmHWM"].split()[0]) * 1024
    assert len(bundle) > 0
    print(elapsed, rss, peak)


if __name__ == "__main__":
    main()
