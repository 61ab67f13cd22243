"""The machine facts stored beside every benchmark figure tell CPUs of one name apart."""

from __future__ import annotations

from pathlib import Path

from bench.harness import cpu_identity

# Two processors; the second's lines must not overwrite the first's.
CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
stepping\t: 1
flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16 sha_ni

processor\t: 1
cpu family\t: 23
model\t\t: 1
model name\t: Other
stepping\t: 2
flags\t\t: fpu avx avx2
"""


def test_family_model_and_vector_flags_of_the_first_cpu(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(CPUINFO)
    assert cpu_identity(info) == {
        "family": "25",
        "model": "17",
        "model name": "AMD EPYC",
        "stepping": "1",
        # Only the flags that decide the kernels' speed, in a fixed order.
        "flags": "avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16",
    }


def test_no_cpuinfo_gives_nothing(tmp_path: Path) -> None:
    assert cpu_identity(tmp_path / "missing") == {}
