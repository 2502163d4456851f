"""Every parser under Hypothesis with a time AND a memory bound (tests/analysis bounds time only).

Bad input gets a ParseResult (or the parser's own ParseError, which parse_file turns into an error
entry): never another exception, never more than TIME_BOUND seconds or MEMORY_BOUND of Python heap
(tracemalloc) and RSS growth (for the native evtx reader, which tracemalloc cannot see). Example counts
come from the Hypothesis profile (HYPOTHESIS_PROFILE=long for ``make fuzz``), so none is fixed here.
"""

from __future__ import annotations

import resource
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.parsers import evtx, kernel_dump, linux_oops, user_dump, windbg_text
from analysis.parsers._binary import ParseError
from analysis.parsers.result import ParseResult
from analysis.rules import analyse_file
from tests.analysis.dump_fixtures import KernelDump, reference_drivers
from tests.analysis.test_fuzz_text import TEXTS, mutated_text
from tests.samples import sample_files

TIME_BOUND = 5.0
MEMORY_BOUND = 64 * 1024 * 1024  # inputs are at most ~100 KB: a parser needing 64 MB is amplifying
RSS_BOUND_KIB = 256 * 1024
BOUNDED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
WORK = Path(tempfile.mkdtemp(prefix="fuzz-bounds-"))


def _seed_files(folder: str, pattern: str, limit: int = 200_000) -> list[bytes]:
    return [p.read_bytes() for p in sample_files(folder, pattern) if p.stat().st_size <= limit]


KERNEL_SEEDS = [
    KernelDump(drivers=reference_drivers(), stack_words=[0xFFFFF80090000010]).build(),
    KernelDump(bits=32, machine=0x14C, build_number=7601).build(),
    KernelDump(dump_type=1).build(),
]
USER_SEEDS = _seed_files("user_dump", "*.dmp") or [b"MDMP\x93\xa7\x00\x00" + b"\x00" * 24]
EVTX_SEEDS = _seed_files("evtx", "*.evtx", limit=2_000_000) or [b"ElfFile\x00" + b"\x00" * 4088]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 16))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["u32", "max", "byte", "cut", "splice"]))
        if action == "u32":
            data[at : at + 4] = draw(st.integers(0, 0xFFFFFFFF)).to_bytes(4, "little")
        elif action == "max":
            data[at : at + 8] = b"\xff" * 8  # absurd counts, sizes and offsets
        elif action == "byte":
            data[at] = draw(st.integers(0, 255))
        elif action == "splice":
            data[at:at] = draw(st.binary(max_size=64))
        else:
            del data[at:]
    return bytes(data)


def _bounded(parse: Callable[[Path], ParseResult], data: bytes, name: str) -> None:
    path = WORK / name
    path.write_bytes(data)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = parse(path)
    except ParseError:
        result = None  # the parser's own typed refusal: parse_file reports it as an error entry
    finally:
        elapsed = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert elapsed < TIME_BOUND, f"{parse.__module__} took {elapsed:.1f} s"
    assert peak < MEMORY_BOUND, f"{parse.__module__} used {peak / 2**20:.0f} MiB of heap"
    assert rss_growth < RSS_BOUND_KIB, f"{parse.__module__} grew RSS by {rss_growth / 1024:.0f} MiB"
    if result is not None:
        assert isinstance(result, ParseResult)
        result.to_json()


@BOUNDED
@given(mutated(KERNEL_SEEDS))
def test_fuzz_kernel_dump_bounded(data: bytes) -> None:
    _bounded(kernel_dump.parse, data, "k.dmp")


@BOUNDED
@given(mutated(USER_SEEDS))
def test_fuzz_user_dump_bounded(data: bytes) -> None:
    _bounded(user_dump.parse, data, "u.dmp")


@pytest.mark.filterwarnings("ignore")
@BOUNDED
@given(mutated(EVTX_SEEDS))
def test_fuzz_evtx_bounded(data: bytes) -> None:
    _bounded(evtx.parse, data, "e.evtx")


@BOUNDED
@given(mutated_text())
def test_fuzz_windbg_text_bounded(text: str) -> None:
    _bounded(windbg_text.parse, text.encode("utf-8", "replace"), "w.txt")


@BOUNDED
@given(st.one_of(mutated_text(), st.sampled_from(TEXTS).map(lambda t: t * 20)))
def test_fuzz_linux_oops_bounded(text: str) -> None:
    _bounded(linux_oops.parse, text.encode("utf-8", "replace"), "l.txt")


@BOUNDED
@given(mutated(KERNEL_SEEDS + USER_SEEDS + EVTX_SEEDS[:1]))
def test_fuzz_parse_file_never_raises_and_is_bounded(data: bytes) -> None:
    """The entry point the worker calls: any file, whatever its kind, gets a result."""
    _bounded(lambda path: analyse_file(path), data, "any.bin")
