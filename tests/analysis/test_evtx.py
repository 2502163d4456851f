"""Event logs: the public .evtx samples against their sidecars, damaged copies, and record-level fixtures.

Writing a valid .evtx from scratch takes a binary-XML encoder; the record-level tests instead feed the
parser JSON records shaped exactly as the `evtx` library emits them.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from analysis.parsers import evtx
from analysis.parsers.result import Event
from tests.analysis.text_samples import require, sidecar
from tests.samples import sample_params

SYSTEM = "evtx/python-evtx__system.evtx"
APPLICATION = "evtx/hayabusa-sample-evtx__many-events-application.evtx"
BAD_CHUNK = "evtx/evtx__sample_with_a_bad_chunk_magic.evtx"
CRASH_RELATED = {41, 1001, 6008, 1000}


def record(
    event_id: int,
    provider: str,
    time: str,
    data: dict[str, Any] | None = None,
    record_id: int = 1,
    level: int = 2,
    user_data: dict[str, Any] | None = None,
    source_name: str | None = None,
) -> dict[str, Any]:
    attributes: dict[str, Any] = {"Name": provider}
    if source_name:
        attributes["EventSourceName"] = source_name
    event: dict[str, Any] = {
        "System": {
            "Provider": {"#attributes": attributes},
            "EventID": event_id,
            "Level": level,
            "TimeCreated": {"#attributes": {"SystemTime": time}},
            "EventRecordID": record_id,
            "Channel": "System",
            "Computer": "PC-01",
        },
        "EventData": data or {},
    }
    if user_data is not None:
        event["UserData"] = user_data
    raw = json.dumps({"Event": event})
    return {"event_record_id": record_id, "timestamp": time, "data": raw}


def run(items: list[dict[str, Any]]) -> tuple[list[Any], list[Event]]:
    bugchecks: list[Any] = []
    events: list[Event] = []
    for item in items:
        parsed = evtx._record(item, item["data"])
        assert parsed is not None
        evtx._classify(parsed, bugchecks, events)
    return evtx._pair(bugchecks), events


def kernel_power(code: int, time: str, record_id: int, p1: str = "0x0") -> dict[str, Any]:
    data = {
        "BugcheckCode": code,
        "BugcheckParameter1": p1,
        "BugcheckParameter2": "0x2",
        "BugcheckParameter3": "0x0",
        "BugcheckParameter4": "0xfffff80312345678",
        "SleepInProgress": False,
        "PowerButtonTimestamp": 0,
    }
    return record(41, "Microsoft-Windows-Kernel-Power", time, data, record_id, level=1)


def wer_bugcheck(text: str, time: str, record_id: int) -> dict[str, Any]:
    data = {"param1": text, "param2": "C:\\Windows\\MEMORY.DMP", "param3": "031023-11234-01"}
    return record(
        1001, "Microsoft-Windows-WER-SystemErrorReporting", time, data, record_id, source_name="BugCheck"
    )


# --- the public samples -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sample_params("evtx", "*.evtx"))
def test_sample_key_events_are_reported(path: Path | None) -> None:
    path = require(path)
    truth = sidecar(path)["ground_truth"]
    result = evtx.parse(path)
    assert result.kind == "evtx" and result.file == path.name
    seen: set[int] = {e.data["record_id"] for e in result.events}
    for crash in result.crashes:
        seen.update(crash.extra["record_ids"])
    for key in truth.get("key_events", []):
        if key["event_id"] in CRASH_RELATED:
            assert key["record_id"] in seen, key
    if not truth.get("crash_related_counts"):
        assert result.crashes == () and result.events == ()


def test_system_log_bugcheck_is_one_crash_from_two_events(samples) -> None:
    system = samples(SYSTEM)
    truth = sidecar(system)["ground_truth"]["bugcheck_event"]
    result = evtx.parse(system)
    assert result.errors == ()
    assert len(result.crashes) == 1
    crash = result.crashes[0]
    assert crash.bugcheck_code == truth["bugcheck_code"] == "0x00010001"
    assert crash.parameters == tuple(truth["params"])
    assert sorted(crash.extra["record_ids"]) == sorted([truth["record_id"], truth["kernel_power_41_record"]])
    assert crash.extra["dump_file"] == truth["dump_file"]
    assert crash.extra["report_id"] == truth["report_id"]
    assert crash.crash_time == "2012-04-06T14:07:52Z"
    kinds = {(e.event_id, e.data["record_id"]): e.kind for e in result.events}
    assert kinds == {
        (6008, 13388): "unexpected_shutdown",
        (6008, 13530): "unexpected_shutdown",
        (41, 13534): "unexpected_shutdown",
    }
    shutdown = next(e for e in result.events if e.data["record_id"] == 13388)
    assert shutdown.data["previous_shutdown_local"] == "4/6/2012 9:59:13 AM"
    assert shutdown.data["previous_shutdown_utc"] == "2012-04-06T13:59:13Z"
    assert shutdown.time == "2012-04-06T14:07:44Z"


def test_application_log_app_crashes(samples) -> None:
    result = evtx.parse(samples(APPLICATION))
    assert result.crashes == ()
    crashes = {e.data["record_id"]: e for e in result.events if e.kind == "app_crash"}
    assert set(crashes) == {1590, 1591, 1592}
    for event in crashes.values():
        assert event.data["app_name"] == "rundll32.exe"
        assert event.data["module_name"] == "KERNELBASE.dll"
        assert event.data["exception_code"] == "0xc0000005"
    assert crashes[1590].provider == "Application Error" and crashes[1590].event_id == 1000
    assert crashes[1590].data["fault_offset"] == "0x3"
    assert crashes[1591].data["event_name"] == "APPCRASH"
    assert crashes[1590].time is not None and crashes[1590].time.startswith("2016-08-18T20:11:2")


def test_bad_chunk_keeps_readable_records_and_reports_damage(samples) -> None:
    result = evtx.parse(samples(BAD_CHUNK))
    assert result.crashes == ()
    assert len(result.errors) == 2
    assert all(e.startswith("damaged part skipped:") and "chunk" in e for e in result.errors)


# --- damaged copies -------------------------------------------------------------------------------------


@pytest.fixture
def system_log_copy(tmp_path: Path, samples) -> Path:
    """A copy of the System log sample that a test may damage."""
    source = samples(SYSTEM)
    target = tmp_path / "System.evtx"
    shutil.copyfile(source, target)
    return target


def test_truncated_log_does_not_raise(system_log_copy: Path) -> None:
    path = system_log_copy
    data = path.read_bytes()
    for size in (len(data) // 2, 4096 + 100, 100):
        path.write_bytes(data[:size])
        result = evtx.parse(path)
        assert result.kind == "evtx"
        assert all(isinstance(e, str) and e for e in result.errors)


def test_flipped_bytes_in_chunks_do_not_raise(system_log_copy: Path) -> None:
    path = system_log_copy
    data = bytearray(path.read_bytes())
    for chunk_start in range(4096, len(data), 65536 * 3):
        for offset in (0, 1, 8, 200, 600, 5000):
            if chunk_start + offset < len(data):
                data[chunk_start + offset] ^= 0xFF
    path.write_bytes(bytes(data))
    result = evtx.parse(path)
    assert result.kind == "evtx"
    assert result.errors  # the damage is reported


def test_empty_and_random_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.evtx"
    empty.write_bytes(b"")
    result = evtx.parse(empty)
    assert result.crashes == () and result.errors
    noise = tmp_path / "noise.evtx"
    noise.write_bytes(os.urandom(70000))
    result = evtx.parse(noise)
    assert result.crashes == () and result.errors[0].startswith("not a readable event log")
    missing = evtx.parse(tmp_path / "missing.evtx")
    assert missing.errors and missing.file == "missing.evtx"


# --- record-level fixtures ------------------------------------------------------------------------------


def test_kernel_power_code_is_decimal_and_pairs_with_wer() -> None:
    crashes, events = run(
        [
            kernel_power(159, "2023-03-10T05:31:40.5Z", 10, p1="0x3"),
            wer_bugcheck(
                "0x0000009f (0x0000000000000003, 0xffffcd0990d7ade0, 0xfffff80058091850, 0xffffcd0990b93010)",
                "2023-03-10T05:33:02.0Z",
                11,
            ),
        ]
    )
    assert events == []
    assert len(crashes) == 1
    crash = crashes[0]
    assert crash.bugcheck_code == "0x0000009f"
    assert crash.parameters == ("0x3", "0xffffcd0990d7ade0", "0xfffff80058091850", "0xffffcd0990b93010")
    assert sorted(crash.extra["record_ids"]) == [10, 11]
    assert crash.crash_time == "2023-03-10T05:33:02Z"
    assert crash.extra["dump_file"] == "C:\\Windows\\MEMORY.DMP"


def test_kernel_power_alone_is_a_crash_and_codes_differing_stay_apart() -> None:
    crashes, _ = run(
        [
            kernel_power(190, "2023-03-10T05:31:40Z", 1),
            wer_bugcheck("0x0000001a (0x41790, 0x0, 0x0, 0x0)", "2023-03-10T05:32:00Z", 2),
            kernel_power(26, "2023-03-11T08:00:00Z", 3),
        ]
    )
    assert [c.bugcheck_code for c in crashes] == ["0x000000be", "0x0000001a", "0x0000001a"]
    assert [c.extra["record_ids"] for c in crashes] == [[1], [2], [3]]


def test_mm_variant_code_kept_as_given() -> None:
    crashes, _ = run(
        [wer_bugcheck("0x1000007e (0xffffffffc0000005, 0x1, 0x2, 0x3)", "2023-01-01T00:00:00Z", 5)]
    )
    assert crashes[0].bugcheck_code == "0x1000007e"


def test_kernel_power_without_code_is_an_unexpected_shutdown() -> None:
    crashes, events = run([kernel_power(0, "2023-03-10T05:31:40Z", 7)])
    assert crashes == []
    assert [(e.kind, e.event_id, e.time) for e in events] == [
        ("unexpected_shutdown", 41, "2023-03-10T05:31:40Z")
    ]
    assert events[0].data["power_button_timestamp"] == 0


def test_whea_memory_diagnostic_and_dump_setting_events() -> None:
    whea = record(
        18,
        "Microsoft-Windows-WHEA-Logger",
        "2023-03-09T01:00:00Z",
        {"ErrorSource": 3, "ApicId": 2, "MCABank": 5, "MciStat": "0xbe00000000800400", "RawData": "AB" * 400},
        record_id=20,
    )
    memdiag = record(
        1202,
        "Microsoft-Windows-MemoryDiagnostics-Results",
        "2023-03-12T01:00:00Z",
        record_id=21,
        user_data={"Results": {"CompletionType": "Fail"}},
    )
    memdiag_ok = record(
        1201, "Microsoft-Windows-MemoryDiagnostics-Results", "2023-03-13T01:00:00Z", record_id=22
    )
    volmgr = record(46, "volmgr", "2023-03-10T05:31:00Z", {"Data": {"#text": ["\\Device\\Harddisk0"]}}, 23)
    _, events = run([whea, memdiag, memdiag_ok, volmgr])
    kinds = [(e.kind, e.event_id) for e in events]
    assert kinds == [
        ("hardware_error", 18),
        ("memory_diagnostic", 1202),
        ("memory_diagnostic", 1201),
        ("dump_settings", 46),
    ]
    assert events[0].data["MciStat"] == "0xbe00000000800400" and "RawData" not in events[0].data
    assert events[0].data["level"] == "error"
    assert events[1].data["result"] == "errors_found" and events[1].data["completion_type"] == "Fail"
    assert events[2].data["result"] == "no_errors"
    assert events[3].message == "crash dump initialisation failed"


def test_application_error_with_named_data() -> None:
    data = {
        "AppName": "agent.exe",
        "AppVersion": "1.2.3.4",
        "ModuleName": "ntdll.dll",
        "ExceptionCode": "c0000374",
        "FaultingOffset": "00000000000ff1c9",
        "ProcessId": "0x1a2c",
    }
    _, events = run([record(1000, "Application Error", "2023-03-10T05:00:00Z", data, 30)])
    assert events[0].kind == "app_crash"
    assert events[0].data["app_name"] == "agent.exe"
    assert events[0].data["exception_code"] == "0xc0000374"
    assert events[0].data["fault_offset"] == "0xff1c9"


def test_wer_bluescreen_report_pairs_with_system_event() -> None:
    values = ["", "0", "BlueScreen", "Not available", "0", "be", "fffffec500007038", "8a00000004000021"]
    values += [
        "fffff582b04ea8d0",
        "b",
        "10_0_19041",
        "0_0",
        "256_1",
        "",
        "",
        "C:\\Windows\\Minidump\\031023-01.dmp",
    ]
    report = record(1001, "Windows Error Reporting", "2023-03-10T05:34:00Z", {"Data": {"#text": values}}, 40)
    system = wer_bugcheck(
        "0x000000be (0xfffffec500007038, 0x8a00000004000021, 0xfffff582b04ea8d0, 0x000000000000000b)",
        "2023-03-10T05:33:00Z",
        41,
    )
    crashes, events = run([report, system])
    assert events == []
    assert len(crashes) == 1
    assert sorted(crashes[0].extra["record_ids"]) == [40, 41]
    assert crashes[0].extra["dump_files"] == ["C:\\Windows\\Minidump\\031023-01.dmp"]
