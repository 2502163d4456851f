"""Property tests: mutated samples and generated text never make a parser raise or stall.

The budget is small (about 200 examples per property) so the suite stays quick on CI; raise it locally
with HYPOTHESIS_MAX_EXAMPLES for a longer run.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.parsers import evtx, linux_oops, windbg_text
from analysis.parsers.result import ParseResult
from tests.analysis import test_linux_oops, windbg_texts
from tests.samples import ABSENT, SEED_CASE, sample_files

MAX_EXAMPLES = int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "200"))
TIME_BOUND = 5.0  # seconds per parse of an input of at most ~100 KB, on a busy 2-core machine
FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
HEX = re.compile(r"^0x[0-9a-f]+$")


def _texts() -> list[str]:
    texts = [
        windbg_texts.CLASSIC,
        windbg_texts.KEY_VALUE,
        windbg_texts.USER_MODE,
        windbg_texts.X86,
        test_linux_oops.X86_OOPS,
        test_linux_oops.ARM64_JOURNAL,
        test_linux_oops.PANIC_ONLY,
    ]
    for folder in ("windbg_text", "linux_oops"):
        texts += [p.read_text(encoding="utf-8", errors="replace") for p in sample_files(folder, "*.txt")]
    if SEED_CASE.exists():
        texts.append(SEED_CASE.read_text(encoding="utf-8"))
    return texts


TEXTS = _texts()
TOKENS = [
    "Arg1: ",
    "Arg4: fffff8030f6c15a4, address",
    "BUGCHECK_CODE:  ",
    "BUGCHECK_P1: ",
    "IRQL_NOT_LESS_OR_EQUAL (a)\n",
    "Arguments:\n",
    "Key  : Failure.Bucket\n    Value: ",
    "*                        Bugcheck Analysis                                    *\n",
    "*                        Exception Analysis                                   *\n",
    "fffff582`b04ea628 fffff800`73436f8d : ",
    " : nt!KeBugCheckEx\n",
    "00000000`000000be ",
    "ExceptionCode: c0000005 (Access violation)\n",
    "BugCheck 50, {",
    "}",
    "STACK_TEXT:\n",
    "MODULE_NAME: ",
    "IMAGE_NAME:  x.sys\n",
    "BUG: kernel NULL pointer dereference, address: 0000000000000000\n",
    "Oops: 0000 [#1] SMP\n",
    "CPU: 3 PID: 1234 Comm: feh Tainted: G      D  C        5.4.79+ #1373\n",
    "RIP: 0010:func+0x12/0x40 [mod]\n",
    "Call Trace:\n",
    " func+0x12/0x40 [mod]\n",
    "Kernel panic - not syncing: Fatal exception\n",
    "Modules linked in: a(O) b(POE)\n",
    "pc : [<c01f3218>]    lr : [<c01f32a0>]    psr: 60000013\n",
    "```\n",
    "&gt; ",
    "\r\n",
    "\n",
    " ",
    "\t",
    "`",
]


@st.composite
def mutated_text(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(TEXTS))
    for _ in range(draw(st.integers(0, 4))):
        operation = draw(st.sampled_from(["cut", "delete", "insert", "flatten", "duplicate", "case"]))
        size = len(text)
        at = draw(st.integers(0, size))
        if operation == "cut":
            text = text[:at]
        elif operation == "delete":
            text = text[:at] + text[at + draw(st.integers(0, 200)) :]
        elif operation == "insert":
            piece = draw(st.one_of(st.sampled_from(TOKENS), st.text(max_size=40)))
            text = text[:at] + piece + text[at:]
        elif operation == "flatten":
            text = " ".join(text.split())
        elif operation == "duplicate":
            text = text + "\n" + text[at:]
        else:
            text = text.upper() if draw(st.booleans()) else text.lower()
    return text


generated_text = st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=30)), max_size=80).map("".join)


def _check(parser: Callable[[Path], ParseResult], path: Path) -> ParseResult:
    started = time.perf_counter()
    result = parser(path)
    elapsed = time.perf_counter() - started
    assert elapsed < TIME_BOUND, f"{parser.__module__} took {elapsed:.1f}s"
    assert isinstance(result, ParseResult)
    json.dumps(result.to_json())  # the command line contract must always serialise
    for crash in result.crashes:
        for value in (crash.bugcheck_code, crash.exception_code, crash.exception_address, *crash.parameters):
            assert value is None or HEX.match(value), value
        assert len(crash.parameters) in (0, 4)
        for frame in crash.stack:
            for value in (frame.offset, frame.address):
                assert value is None or HEX.match(value), value
    assert result.crashes or result.errors or result.events or parser is evtx.parse
    return result


def _write(directory: str, data: str | bytes, name: str) -> Path:
    path = Path(directory) / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", errors="surrogatepass")
    else:
        path.write_bytes(data)
    return path


@FUZZ
@given(text=mutated_text())
def test_mutated_samples_never_raise(text: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = _write(directory, text.encode("utf-8", errors="replace"), "paste.txt")
        _check(windbg_text.parse, path)
        _check(linux_oops.parse, path)


@FUZZ
@given(text=generated_text)
def test_generated_text_never_raises(text: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = _write(directory, text.encode("utf-8", errors="replace"), "generated.txt")
        _check(windbg_text.parse, path)
        _check(linux_oops.parse, path)


@FUZZ
@given(data=st.binary(max_size=4096))
def test_random_bytes_never_raise(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = _write(directory, data, "blob.bin")
        _check(windbg_text.parse, path)
        _check(linux_oops.parse, path)
        _check(evtx.parse, path)


EVTX_SAMPLES = sample_files("evtx", "*.evtx")


@pytest.mark.samples
@pytest.mark.skipif(not EVTX_SAMPLES, reason=ABSENT)
@settings(FUZZ, max_examples=max(MAX_EXAMPLES // 4, 10))
@given(
    index=st.integers(0, 10),
    flips=st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), min_size=1, max_size=40),
    cut=st.one_of(st.none(), st.floats(0, 1)),
)
def test_damaged_event_logs_never_raise(
    index: int, flips: list[tuple[float, int]], cut: float | None
) -> None:
    data = bytearray(EVTX_SAMPLES[index % len(EVTX_SAMPLES)].read_bytes())
    for position, mask in flips:
        data[min(int(position * len(data)), len(data) - 1)] ^= mask
    if cut is not None:
        data = data[: int(cut * len(data))]
    with tempfile.TemporaryDirectory() as directory:
        _check(evtx.parse, _write(directory, bytes(data), "damaged.evtx"))
