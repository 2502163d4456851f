"""Property tests: mutated dumps never make parse_file raise, and each parse ends within a bound."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.rules import analyse_file
from tests.analysis.dump_fixtures import KernelDump, reference_drivers
from tests.samples import SAMPLES_DIR

TIME_BOUND_S = 2.0
SEEDS: list[bytes] = [
    KernelDump(
        drivers=reference_drivers(), stack_words=[0xFFFFF80090000010], unloaded=[("x.sys", 1, 9)]
    ).build(),
    KernelDump(bits=32, machine=0x14C, build_number=7601, drivers=[("a.sys", 0x80001000, 0x1000, 1)]).build(),
    KernelDump(dump_type=1).build(),
]
for name in (
    "user_dump/breakpad__minidump2.dmp",
    "user_dump/rust-minidump__linux-mini.dmp",
    "kernel_dump/rizin-testbins__triage_x64.dmp",
):
    if (SAMPLES_DIR / name).exists():
        SEEDS.append((SAMPLES_DIR / name).read_bytes())

WORK = Path(tempfile.mkdtemp(prefix="fuzz-dumps-"))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 12))):
        # Bias toward the headers, where offsets and counts live.
        limit = draw(st.sampled_from([0x40, 0x2100, len(data)]))
        at = draw(st.integers(0, max(0, min(limit, len(data)) - 4)))
        action = draw(st.sampled_from(["u32", "byte", "cut", "ff"]))
        if action == "u32":
            data[at : at + 4] = draw(st.integers(0, 0xFFFFFFFF)).to_bytes(4, "little")
        elif action == "byte":
            data[at] = draw(st.integers(0, 255))
        elif action == "ff":
            data[at : at + 4] = b"\xff\xff\xff\x7f"
        else:
            del data[at:]
            break
    return bytes(data)


@pytest.mark.filterwarnings("ignore")
@settings(
    max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated())
def test_mutated_dumps_never_raise(data: bytes) -> None:
    path = WORK / "fuzz.dmp"
    path.write_bytes(data)
    started = time.perf_counter()
    result = analyse_file(path)
    assert time.perf_counter() - started < TIME_BOUND_S
    assert result.kind in {
        "kernel_dump",
        "user_dump",
        "unknown",
        "archive",
        "evtx",
        "windbg_text",
        "linux_oops",
    }
    result.to_json()


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_never_raise(data: bytes) -> None:
    path = WORK / "random.bin"
    path.write_bytes(data)
    result = analyse_file(path)
    assert isinstance(result.errors, tuple)
