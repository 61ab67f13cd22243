"""Core crypto figures (DESIGN §7): per read, per hit, per warrant, per 1 M-entry bundle."""

from __future__ import annotations

import itertools
import os
import random
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from nacl.public import PrivateKey
from nacl.signing import SigningKey

from bench.harness import Row, report, row, time_per_call
from underseal.bundle import HotlistBundle, build_bundle, seal_bundle
from underseal.sealed import RecordHeader, SealedRecord, open_record_with_shared_point, seal_record
from underseal.threshold import combine_partials, deal, partial_decrypt
from underseal.tokens import HARDENED, HMAC_SHA256, TokenKey

ENTRIES = 1_000_000
EPOCH = 20_415
NOW = EPOCH * 86_400 + 3_600
ALPHABET = string.ascii_uppercase + string.digits


def plates(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(ALPHABET, k=7)) for _ in range(n)]


def bundle_rows(scratch: Path) -> list[Row]:
    key = TokenKey.generate(HMAC_SHA256)
    authority = SigningKey.generate()
    camera = PrivateKey.generate()
    hotlist = plates(ENTRIES, seed=1)
    build, load, rss_steady, rss_peak = [], [], [], []
    for _ in range(3):
        start = time.perf_counter()
        entries = ((key.token(p), i.to_bytes(8, "big")) for i, p in enumerate(hotlist))
        bundle = build_bundle(
            entries, camera_id="cam-1", serial=1, epoch=EPOCH,
            not_before=NOW - 60, not_after=NOW + 3_600, token_key=key,
        )  # fmt: skip
        sealed = seal_bundle(bundle, authority=authority, camera=camera.public_key)
        build.append(time.perf_counter() - start)
        del bundle
        path = scratch / "bundle.sealed"
        path.write_bytes(sealed)
        del sealed
        # Load in a fresh process, as a camera would, to measure its memory honestly.
        out = subprocess.run(
            [sys.executable, "-m", "bench._load_bundle", str(path),
             bytes(camera).hex(), authority.verify_key.encode().hex(), str(NOW)],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        load.append(float(out[0]))
        rss_steady.append(float(out[1]))
        rss_peak.append(float(out[2]))
    mib = 1 / (1 << 20)
    return [
        row("bundle build+sign+seal, 1 M entries", build, unit="s", scale=1, goal="≤ 5 s"),
        row("bundle open+verify+index, 1 M entries", load, unit="s", scale=1, goal="≤ 1 s"),
        row("camera RSS after load (whole process)", rss_steady, unit="MiB", scale=mib,
            goal="≤ 64 MB"),
        row("camera peak RSS during load", rss_peak, unit="MiB", scale=mib),
    ]  # fmt: skip


def per_read_rows() -> list[Row]:
    rows = []
    for scheme, number in ((HMAC_SHA256, 20_000), (HARDENED, 50)):
        key = TokenKey.generate(scheme)
        hotlist = plates(ENTRIES if scheme is HMAC_SHA256 else 1_000, seed=2)
        bundle = build_bundle(
            ((key.token(p), bytes(8)) for p in hotlist), camera_id="cam-1", serial=1,
            epoch=EPOCH, not_before=NOW - 60, not_after=NOW + 60, token_key=key,
        )  # fmt: skip
        reads = plates(1024, seed=3)
        counter = itertools.count()

        def one(
            reads: list[str] = reads,
            bundle: HotlistBundle = bundle,
            counter: Iterator[int] = counter,
        ) -> object:
            return bundle.match(reads[next(counter) & 1023])

        rows.append(
            row(f"fold+token+match per read ({scheme.mode}, {len(bundle):,} entries)",
                time_per_call(one, number=number), unit="µs", scale=1e6,
                goal="≤ 10 µs" if scheme is HMAC_SHA256 else "keeps up with traffic")
        )  # fmt: skip
    return rows


def record_rows() -> list[Row]:
    dealt = deal(epoch=EPOCH, threshold=2, custodians=3)
    device = SigningKey.generate()
    evidence = os.urandom(8_000)  # a plate crop JPEG and the fields around it

    def seal() -> SealedRecord:
        header = RecordHeader(
            record_id=os.urandom(16), camera_id="cam-1", epoch=EPOCH, match_token=os.urandom(16)
        )
        return seal_record(
            header=header, evidence=evidence, epoch_key=dealt.public_key, device=device
        )

    record = seal()
    partials = [partial_decrypt(s, record.ephemeral) for s in dealt.shares[:2]]

    def combine_open() -> object:
        shared = combine_partials(partials, record.ephemeral, commitments=dealt.commitments)
        return open_record_with_shared_point(record, shared, dealt.public_key)

    return [
        row("seal+sign per hit (8 kB evidence)", time_per_call(seal, number=300),
            unit="ms", scale=1e3, goal="≤ 0.5 ms"),
        row("partial decryption + DLEQ proof (one custodian)",
            time_per_call(lambda: partial_decrypt(dealt.shares[0], record.ephemeral),
                          number=300), unit="ms", scale=1e3),
        row("verify 2 proofs + combine + open (2 of 3)", time_per_call(combine_open, number=200),
            unit="ms", scale=1e3, goal="≤ 50 ms per record with search"),
    ]  # fmt: skip


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        rows = per_read_rows() + record_rows() + bundle_rows(Path(scratch))
    path = report("core", rows)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
