"""User-mode minidumps: every public sample against its sidecar, and broken variants."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from analysis.rules import analyse_file
from tests.analysis.dump_fixtures import sidecar
from tests.samples import sample_params

ARCH = {"x86": "x86", "AMD64": "x64"}


@pytest.mark.parametrize("path", sample_params("user_dump"))
def test_user_dump_sample_matches_sidecar(path: Path) -> None:
    facts = sidecar(path)["ground_truth"]["mdmp_facts"]
    result = analyse_file(path)
    assert result.kind == "user_dump"
    if "parse_error" in facts or not {"exception", "module_count", "system_info"} & facts.keys():
        assert result.errors, "a broken sample must give errors"
        return
    (crash,) = result.crashes
    assert len(crash.modules) == facts["module_count"]
    assert crash.extra.get("thread_count") == facts["thread_count"]
    first = facts["first_module"].replace("\\", "/").rsplit("/", 1)[-1]
    assert crash.process_name == first
    system = facts["system_info"]
    assert crash.architecture == ARCH[system["arch"]]
    assert crash.extra["os"] == system["os"]
    assert crash.crash_time == facts["TimeDateStamp_utc"]
    exception = facts.get("exception")
    if exception is None:
        assert crash.exception_code is None
        return
    assert crash.exception_code == exception["code"].lower()
    assert crash.exception_address == exception["address"]
    if "in_module" in exception:
        assert crash.culprit_module == exception["in_module"].split("+")[0]
        assert exception["in_module"] in (crash.culprit_reason or "")
    else:
        assert crash.culprit_module is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("breakpad__minidump2.dmp", "STATUS_ACCESS_VIOLATION"),
        ("breakpad__tiny-exe-fastfail.dmp", "STATUS_STACK_BUFFER_OVERRUN"),
        ("rizin-testbins__calc.dmp", "STATUS_BREAKPOINT"),
        ("rust-minidump__linux-mini.dmp", "SIGSEGV"),
        ("breakpad__linux_inline.dmp", "SIGILL"),
        ("rust-minidump__simple-crashpad.dmp", "EXC_CRASH / SIGABRT"),
    ],
)
def test_exception_names(name: str, expected: str, samples) -> None:
    path = samples(f"user_dump/{name}")
    assert analyse_file(path).crashes[0].exception_name == expected


def test_windows_module_origin_and_version(samples) -> None:
    path = samples("user_dump/rizin-testbins__calc.dmp")
    crash = analyse_file(path).crashes[0]
    calc = crash.modules[0]
    assert (calc.name, calc.version, calc.origin) == ("calc.exe", "6.1.7600.16385", "microsoft")
    assert crash.os_build == "7601"


def _minidump(streams: int, directory_rva: int, size: int = 64) -> bytes:
    head = struct.pack("<4sIIIIIQ", b"MDMP", 0xA793, streams, directory_rva, 0, 0, 0)
    return head + bytes(size - len(head))


@pytest.mark.parametrize(
    "data",
    [
        b"MDMP",
        _minidump(0xFFFFFFFF, 32),
        _minidump(3, 0xFFFFFFF0),
        _minidump(1, 32) + struct.pack("<III", 4, 0xFFFFFFFF, 0x40),
        _minidump(1, 32, 32) + struct.pack("<III", 4, 8, 44) + struct.pack("<I", 0x7FFFFFFF) + bytes(4),
    ],
    ids=["header-only", "absurd-stream-count", "directory-beyond-eof", "stream-beyond-eof", "absurd-modules"],
)
def test_broken_minidumps_give_errors(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "broken.dmp"
    path.write_bytes(data)
    result = analyse_file(path)
    assert result.kind == "user_dump"
    assert result.errors
