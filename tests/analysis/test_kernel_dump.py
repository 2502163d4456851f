"""Kernel dump reader: the public triage sample against its sidecar, and the project's own dumps."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest

from analysis.parsers import kernel_dump
from analysis.rules import analyse_file
from tests.analysis.dump_fixtures import (
    HASH_STAMP,
    REAL_STAMP,
    KernelDump,
    reference_drivers,
    sidecar,
)
from tests.samples import sample_params


@pytest.mark.parametrize("path", sample_params("kernel_dump", "*.dmp"))
def test_triage_sample_matches_sidecar(path: Path) -> None:
    truth = sidecar(path)["ground_truth"]
    header = truth["dump_header"]
    result = analyse_file(path)
    assert result.errors == ()
    (crash,) = result.crashes
    assert crash.bugcheck_code == header["BugCheckCode"].lower()
    assert crash.bugcheck_name == "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M"
    assert [int(p, 16) for p in crash.parameters] == [int(p, 16) for p in header["BugCheckParameters"]]
    assert crash.os_build == str(header["MinorVersion(build)"])
    assert crash.architecture == "x64"
    assert crash.extra["processor_count"] == header["NumberProcessors"]
    assert crash.extra["dump_type"] == header["DumpType"] == 4
    assert crash.crash_time == header["SystemTime_utc"][:19] + "Z"
    assert crash.extra["uptime_seconds"] == pytest.approx(header["SystemUpTime_seconds"], abs=0.01)
    triage = truth["triage"]
    assert len(crash.modules) == triage["loaded_driver_count"]
    expected = [(p, int(b, 16), int(s, 16)) for p, b, s in triage["loaded_drivers"]]
    got = [(m.path or m.name, int(m.base or "0", 16), m.size) for m in crash.modules]
    assert got == expected
    assert [(m.name, m.base) for m in crash.unloaded_modules] == [
        (u["name"].strip(), u["start"]) for u in triage["unloaded_drivers"]
    ]
    assert crash.process_name == truth["process_name"] == "System"
    assert set(crash.extra["stack_modules"]) == set(triage["stack_scan_modules"])
    assert crash.culprit_module == "amdppm.sys"
    assert "amdppm.sys+0x334c" in (crash.culprit_reason or "")
    assert crash.extra["exception_context_pc"] == "0xfffff8048b58334c"
    third = {m.name for m in crash.modules if m.origin == "third_party"}
    assert third == set(truth["third_party_drivers_seen"])
    assert crash.signatures["coarse"] == "0x7E"
    assert crash.signatures["module"] == "0x7E | amdppm"


def test_reference_like_triage_dump_blames_nothing_inside_windows(tmp_path: Path) -> None:
    dump = KernelDump(drivers=reference_drivers(), context_pc=0xFFFFF80073200000 + 0x400)
    (crash,) = analyse_file(dump.write(tmp_path / "Mini031023-01.dmp")).crashes
    assert crash.bugcheck_code == "0x000000be"
    assert crash.bugcheck_name == "ATTEMPTED_WRITE_TO_READONLY_MEMORY"
    assert crash.parameters == ("0xfffffec500007038", "0x8a00000004000021", "0xfffff582b04ea8d0", "0xb")
    assert crash.crash_time == "2023-03-10T05:31:02Z"
    assert crash.process_name == "smss.exe"
    assert crash.culprit_module is None
    assert crash.culprit_reason == "fault inside Windows (ntoskrnl.exe+0x400); culprit not on the stack"
    iso = next(m for m in crash.modules if m.name == "SfUemIsoSpace.sys")
    assert (iso.origin, iso.vendor_class) == ("third_party", "dlp/isolation")
    assert crash.signatures["module"] == "0xBE | windows-kernel"


def test_third_party_module_on_stack_is_the_weak_culprit_when_the_fault_is_in_nt(tmp_path: Path) -> None:
    words = [0, 0xFFFFF80073200000 + 0x1234, 0xFFFFF80090000000 + 0x55]
    dump = KernelDump(drivers=reference_drivers(), stack_words=words, context_pc=0xFFFFF80073200400)
    (crash,) = analyse_file(dump.write(tmp_path / "a.dmp")).crashes
    assert crash.culprit_module == "SfUemIsoSpace.sys"
    assert "stack scan" in (crash.culprit_reason or "")
    assert [f.trust for f in crash.stack] == ["context", "scan", "scan"]


def test_fault_parameter_in_unloaded_driver(tmp_path: Path) -> None:
    dump = KernelDump(
        code=0xD1, params=(0x10, 2, 0, 0xFFFFF80070000100), drivers=reference_drivers(),
        unloaded=[("gonefilter.sys", 0xFFFFF80070000000, 0xFFFFF80070010000)],
    )  # fmt: skip
    (crash,) = analyse_file(dump.write(tmp_path / "a.dmp")).crashes
    assert crash.culprit_module == "gonefilter.s"  # the inline name keeps 12 characters
    assert "already unloaded" in (crash.culprit_reason or "")


def test_wild_fault_address_is_reported_as_corruption(tmp_path: Path) -> None:
    dump = KernelDump(code=0xD1, params=(0x10, 2, 0, 0x4141414141414141), drivers=reference_drivers())
    (crash,) = analyse_file(dump.write(tmp_path / "a.dmp")).crashes
    assert crash.culprit_module is None
    assert "in no loaded module" in (crash.culprit_reason or "")


def test_32bit_pagedump_triage(tmp_path: Path) -> None:
    dump = KernelDump(
        bits=32, machine=0x14C, build_number=7601, code=0xD1, params=(0x10, 2, 0, 0x80001234),
        drivers=[(r"\SystemRoot\system32\ntkrnlpa.exe", 0x80400000, 0x400000, HASH_STAMP),
                 (r"\SystemRoot\system32\drivers\acme.sys", 0x80001000, 0x1000, REAL_STAMP)],
        stack_words=[0x80001234], process_name=b"explorer.exe", image_name_offset=0x16C,
    )  # fmt: skip
    result = analyse_file(dump.write(tmp_path / "x86.dmp"))
    assert result.errors == ()
    (crash,) = result.crashes
    assert crash.architecture == "x86"
    assert crash.parameters == ("0x10", "0x2", "0x0", "0x80001234")
    assert crash.os_build == "7601"
    assert crash.crash_time == "2023-03-10T05:31:02Z"
    assert crash.culprit_module == "acme.sys"
    assert crash.process_name == "explorer.exe"
    assert [m.name for m in crash.modules] == ["ntkrnlpa.exe", "acme.sys"]


def test_32bit_full_dump_header_only(tmp_path: Path) -> None:
    dump = KernelDump(bits=32, machine=0x14C, build_number=2600, dump_type=1, code=0x7F, params=(8, 0, 0, 0))
    (crash,) = analyse_file(dump.write(tmp_path / "MEMORY.DMP")).crashes
    assert (crash.architecture, crash.bugcheck_code, crash.os_build) == ("x86", "0x0000007f", "2600")
    assert crash.bugcheck_name == "UNEXPECTED_KERNEL_MODE_TRAP"
    assert crash.extra["dump_type_name"] == "full"
    assert crash.modules == ()


def test_arm64_triage_header_and_process_name(tmp_path: Path) -> None:
    dump = KernelDump(
        machine=0xAA64, build_number=22000, code=0x1C8, params=(0, 0, 0, 0), image_name_offset=0x560,
        process_name=b"System", drivers=reference_drivers(), processors=8, context_pc=0xFFFFF80073200010,
    )  # fmt: skip
    result = analyse_file(dump.write(tmp_path / "arm64.dmp"))
    (crash,) = result.crashes
    assert (crash.architecture, crash.os_build, crash.extra["processor_count"]) == ("arm64", "22000", 8)
    assert crash.bugcheck_name == "MANUALLY_INITIATED_POWER_BUTTON_HOLD"
    assert crash.process_name == "System"
    assert crash.extra["process_name_source"] == "EPROCESS+0x560 (build table)"
    assert crash.extra["fault_module"] == "ntoskrnl.exe+0x10"
    assert [f.code for f in result.findings] == ["manual_crash"]


@pytest.mark.parametrize("dump_type", [1, 2, 5, 6, 8, 9, 0xA])
def test_memory_dump_types_read_the_header_only(tmp_path: Path, dump_type: int) -> None:
    path = tmp_path / "MEMORY.DMP"
    with path.open("wb") as handle:
        handle.write(KernelDump(dump_type=dump_type, required_space=16 << 30).build())
        handle.truncate(16 << 30)  # sparse: costs no disk
    started = time.perf_counter()
    result = analyse_file(path)
    assert time.perf_counter() - started < 1.0
    assert result.errors == ()
    (crash,) = result.crashes
    assert crash.extra["dump_type"] == dump_type
    assert crash.extra["file_size"] == 16 << 30
    assert "no driver list" in (crash.culprit_reason or "")


def test_truncated_memory_dump_says_so(tmp_path: Path) -> None:
    path = KernelDump(dump_type=1, required_space=4 << 30).write(tmp_path / "MEMORY.DMP")
    result = analyse_file(path)
    assert any("file truncated: the header says" in e for e in result.errors)


def test_header_cut_at_1kb_keeps_what_it_can(tmp_path: Path) -> None:
    path = tmp_path / "cut.dmp"
    path.write_bytes(KernelDump(dump_type=1, required_space=4 << 30).build()[:1024])
    result = analyse_file(path)
    assert result.crashes[0].bugcheck_code == "0x000000be"
    assert any("truncated" in e for e in result.errors)
    assert "parse_error" in {f.code for f in result.findings}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [(0x34, 0xFFFFFFF0, "driver count"), (0x30, 0x7FFFFFF0, "truncated"), (0x18, 0x1400, "")],
)
def test_absurd_triage_values_become_errors(tmp_path: Path, field: int, value: int, message: str) -> None:
    data = bytearray(KernelDump(drivers=reference_drivers(), unloaded=[("a.sys", 1, 2)]).build())
    struct.pack_into("<I", data, 0x2000 + field, value)
    path = tmp_path / "bad.dmp"
    path.write_bytes(bytes(data))
    result = analyse_file(path)
    assert result.kind == "kernel_dump"
    assert result.crashes
    assert message in " ".join(result.errors)


def test_triage_dump_truncated_in_the_driver_list(tmp_path: Path) -> None:
    data = KernelDump(drivers=reference_drivers()).build()
    path = tmp_path / "cut.dmp"
    path.write_bytes(data[: len(data) - 300])
    result = analyse_file(path)
    assert any("truncated" in e for e in result.errors)
    assert 0 < len(result.crashes[0].modules) <= len(reference_drivers())


def test_not_a_kernel_dump_raises_typed_error(tmp_path: Path) -> None:
    path = tmp_path / "x.dmp"
    path.write_bytes(b"PAGEXXXX" + bytes(100))
    with pytest.raises(kernel_dump.ParseError):
        kernel_dump.parse(path)
