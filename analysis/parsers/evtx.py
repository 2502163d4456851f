"""Windows event logs (.evtx) -> bug check crashes and the other events that matter for a crash case.

Reference: research/dump-formats.md ("EVTX", pyevtx-rs `evtx` records as JSON) and
research/analysis-spec.md section 0 / B (WER 1001 BugCheck, Kernel-Power 41 with a DECIMAL
BugcheckCode, EventLog 6008, WHEA-Logger, MemoryDiagnostics-Results, volmgr dump events).
"""

from __future__ import annotations

import json
import os
import re
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from evtx import PyEvtxParser

from analysis.parsers.evtx_values import (
    code_text,
    data_list,
    data_scalars,
    data_strings,
    find_key,
    hex_text,
    moment_of,
    node_attributes,
    node_text,
    systemtime_iso,
)
from analysis.parsers.result import Crash, Event, ParseResult

__all__ = ["parse"]

MAX_RECORDS = 5_000_000
MAX_RECORD_ERRORS = 1000
# The two events of one bug check are written at the next boot: Kernel-Power 41 early, WER 1001 once
# the dump has been processed, which takes minutes on a slow disk.
PAIR_WINDOW_SECONDS = 30 * 60

_KERNEL_POWER = "Microsoft-Windows-Kernel-Power"
_WER_SYSTEM = ("Microsoft-Windows-WER-SystemErrorReporting", "Save Dump", "BugCheck")
_WER_APP = "Windows Error Reporting"
_APP_ERROR = "Application Error"
_WHEA = "Microsoft-Windows-WHEA-Logger"
_MEMORY_DIAGNOSTICS = "MemoryDiagnostics-Results"
_VOLMGR = "volmgr"
_EVENTLOG = "EventLog"
# Cheap substring filter before json.loads: a System log is mostly service-control noise.
_INTERESTING = (
    "Kernel-Power",
    "SystemErrorReporting",
    "Save Dump",
    "BugCheck",
    '"EventLog"',
    "WHEA-Logger",
    "MemoryDiagnostics",
    "Application Error",
    "Windows Error Reporting",
    "volmgr",
)
_BUGCHECK_TEXT = re.compile(r"(0x[0-9a-fA-F]{1,8})\s*\(([^)]*)\)")
_DUMP_PATH = re.compile(r"A dump was saved in:\s*([^.\n]+(?:\.[A-Za-z]{3})?)")
_APPCRASH_NAMES = {"APPCRASH", "BEX", "BEX64", "MoAppCrash", "CLR20r3"}
# volmgr: 45 dump driver not loaded, 46 crash dump initialisation failed, 49 page file for crash dump
# failed, 161/162 dump file creation failed.
_VOLMGR_DUMP_EVENTS = {45, 46, 49, 161, 162}
_MEMDIAG_RESULT = {1101: "no_errors", 1201: "no_errors", 1102: "errors_found", 1202: "errors_found"}
_LEVELS = {1: "critical", 2: "error", 3: "warning", 4: "information"}


@dataclass
class _Record:
    record_id: int | None
    event_id: int
    provider: str
    time: str | None
    moment: datetime | None
    level: int | None
    computer: str | None
    channel: str | None
    data: dict[str, Any]
    user_data: dict[str, Any]
    source_name: str | None


@dataclass
class _BugCheck:
    code: int
    params: list[str | None]
    record: _Record
    kind: str  # "wer" | "kernel_power" | "wer_app"
    extra: dict[str, Any] = field(default_factory=dict)


def parse(path: str | os.PathLike[str]) -> ParseResult:
    """Read every readable record of an .evtx file (surviving damaged chunks); never raises."""
    name = os.path.basename(os.fspath(path))
    errors: list[str] = []
    try:
        records = _read(path, errors)
    except Exception as exc:  # the native reader may refuse the file outright
        return ParseResult(file=name, kind="evtx", errors=(f"not a readable event log: {_short(exc)}",))
    bugchecks: list[_BugCheck] = []
    events: list[Event] = []
    for record in records:
        try:
            _classify(record, bugchecks, events)
        except Exception as exc:  # one odd record must not cost the others
            errors.append(f"record {record.record_id}: could not be interpreted: {_short(exc)}")
    crashes = _pair(bugchecks)
    return ParseResult(
        file=name, kind="evtx", crashes=tuple(crashes), events=tuple(events), errors=tuple(errors)
    )


def _read(path: str | os.PathLike[str], errors: list[str]) -> list[_Record]:
    parser = PyEvtxParser(os.fspath(path), number_of_threads=1)
    iterator = parser.records_json()
    records: list[_Record] = []
    failures = 0
    seen = 0
    while True:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                item = next(iterator)
        except StopIteration:
            break
        except Exception as exc:
            # A damaged chunk raises here; the iterator moves on to the next chunk when asked again.
            failures += 1
            if failures <= 20:
                errors.append(f"damaged part skipped: {_short(exc)}")
            if failures >= MAX_RECORD_ERRORS:
                errors.append(f"stopped after {failures} read errors; the rest of the log is not read")
                break
            continue
        seen += 1
        if seen > MAX_RECORDS:
            errors.append(f"stopped after {MAX_RECORDS} records; the rest of the log is not read")
            break
        if item is None:
            continue
        raw = item.get("data", "")
        if not any(marker in raw for marker in _INTERESTING):
            continue
        record = _record(item, raw)
        if record is not None:
            records.append(record)
    if failures > 20:
        errors.append(f"{failures} damaged parts skipped in total")
    return records


def _record(item: dict[str, Any], raw: str) -> _Record | None:
    try:
        document = json.loads(raw)
    except ValueError:
        return None
    event = document.get("Event") if isinstance(document, dict) else None
    if not isinstance(event, dict):
        return None
    system = event.get("System") or {}
    event_id = node_text(system.get("EventID"))
    try:
        number = int(str(event_id))
    except (TypeError, ValueError):
        return None
    provider_attrs = node_attributes(system.get("Provider"))
    created = node_attributes(system.get("TimeCreated")).get("SystemTime")
    moment = moment_of(created) if isinstance(created, str) else None
    level = system.get("Level")
    record_id = system.get("EventRecordID", item.get("event_record_id"))
    data = event.get("EventData")
    user_data = event.get("UserData")
    return _Record(
        record_id=record_id if isinstance(record_id, int) else None,
        event_id=number,
        provider=str(provider_attrs.get("Name") or ""),
        time=moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None,
        moment=moment,
        level=level if isinstance(level, int) else None,
        computer=system.get("Computer") if isinstance(system.get("Computer"), str) else None,
        channel=system.get("Channel") if isinstance(system.get("Channel"), str) else None,
        data=data if isinstance(data, dict) else {},
        user_data=user_data if isinstance(user_data, dict) else {},
        source_name=provider_attrs.get("EventSourceName"),
    )


def _classify(record: _Record, bugchecks: list[_BugCheck], events: list[Event]) -> None:
    provider, event_id = record.provider, record.event_id
    if provider == _KERNEL_POWER and event_id == 41:
        _kernel_power(record, bugchecks, events)
    elif event_id == 1001 and (provider in _WER_SYSTEM or record.source_name == "BugCheck"):
        _wer_bugcheck(record, bugchecks)
    elif provider == _EVENTLOG and event_id == 6008:
        events.append(
            _event(record, "unexpected_shutdown", _previous_shutdown(record), _shutdown_message(record))
        )
    elif provider == _WHEA:
        events.append(_event(record, "hardware_error", _whea(record), None))
    elif provider.endswith(_MEMORY_DIAGNOSTICS):
        events.append(_memory_diagnostic(record))
    elif provider == _APP_ERROR and event_id == 1000:
        events.append(_application_error(record))
    elif provider == _WER_APP and event_id == 1001:
        _wer_report(record, bugchecks, events)
    elif provider == _VOLMGR and event_id in _VOLMGR_DUMP_EVENTS:
        messages = {
            45: "the crash dump driver could not be loaded",
            46: "crash dump initialisation failed",
            49: "configuring the page file for crash dumps failed",
            161: "dump file creation failed",
            162: "dump file creation failed",
        }
        events.append(_event(record, "dump_settings", data_scalars(record.data), messages[event_id]))


def _kernel_power(record: _Record, bugchecks: list[_BugCheck], events: list[Event]) -> None:
    data = record.data
    raw_code = data.get("BugcheckCode")
    try:
        code = int(str(raw_code)) if raw_code is not None else None  # DECIMAL: 159 is 0x9f
    except ValueError:
        code = None
    facts = {
        "record_id": record.record_id,
        "bugcheck_code": f"0x{code:08x}" if code else None,
        "sleep_in_progress": data.get("SleepInProgress"),
        "power_button_timestamp": data.get("PowerButtonTimestamp"),
    }
    if not code:
        message = "the system rebooted without cleanly shutting down first (Kernel-Power 41, no bug check)"
        events.append(_event(record, "unexpected_shutdown", facts, message))
        return
    params = [hex_text(data.get(f"BugcheckParameter{i}")) for i in range(1, 5)]
    extra = {k: v for k, v in facts.items() if k not in ("record_id", "bugcheck_code") and v is not None}
    bugchecks.append(_BugCheck(code=code, params=params, record=record, kind="kernel_power", extra=extra))


def _wer_bugcheck(record: _Record, bugchecks: list[_BugCheck]) -> None:
    for text in data_strings(record.data):
        match = _BUGCHECK_TEXT.search(text)
        if match is None:
            continue
        pieces = [p.strip() for p in match.group(2).split(",")]
        params = [hex_text(p) for p in pieces[:4]] + [None] * (4 - len(pieces[:4]))
        extra: dict[str, Any] = {}
        named = record.data
        dump = named.get("param2") if isinstance(named.get("param2"), str) else None
        found = _DUMP_PATH.search(text)
        if found:
            dump = found.group(1).strip()
        if dump:
            extra["dump_file"] = dump
        if isinstance(named.get("param3"), str) and named["param3"]:
            extra["report_id"] = named["param3"]
        bugchecks.append(_BugCheck(int(match.group(1), 16), params, record, "wer", extra))
        return


def _wer_report(record: _Record, bugchecks: list[_BugCheck], events: list[Event]) -> None:
    values = data_list(record.data)
    if len(values) < 6:
        return
    event_name = values[2]
    # Layout of the classic WER 1001 data: bucket, type, event name, response, cab id, P1..P10, files.
    p = values[5:15] + [""] * max(0, 15 - len(values))
    if event_name == "BlueScreen":
        try:
            code = int(p[0], 16)
        except ValueError:
            return
        extra: dict[str, Any] = {"os_version": p[5] or None}
        files = values[15] if len(values) > 15 else ""
        dumps = [f.strip() for f in files.splitlines() if f.strip().lower().endswith(".dmp")]
        if dumps:
            extra["dump_files"] = dumps
        bugchecks.append(_BugCheck(code, [hex_text(v) for v in p[1:5]], record, "wer_app", extra))
        return
    if event_name not in _APPCRASH_NAMES:
        return
    if event_name == "CLR20r3":
        facts: dict[str, Any] = {
            "event_name": event_name,
            "app_name": p[0] or None,
            "app_version": p[1] or None,
        }
        facts.update({"module_name": p[3] or None, "exception_type": p[8] or None})
        message = f"{p[0]} stopped with a .NET exception {p[8]}".strip()
    else:
        facts = {
            "event_name": event_name,
            "app_name": p[0] or None,
            "app_version": p[1] or None,
            "module_name": p[3] or None,
            "module_version": p[4] or None,
            "exception_code": code_text(p[6]),
            "fault_offset": hex_text(p[7]),
        }
        message = f"{p[0]} crashed in {p[3]} (exception {facts['exception_code']})"
    facts["report_id"] = values[19] if len(values) > 19 and values[19] else None
    events.append(_event(record, "app_crash", facts, message))


def _application_error(record: _Record) -> Event:
    data = record.data
    names = [
        *("AppName", "AppVersion", "AppTimeStamp", "ModuleName", "ModuleVersion", "ModuleTimeStamp"),
        *("ExceptionCode", "FaultingOffset", "ProcessId", "ProcessCreationTime", "AppPath", "ModulePath"),
        "IntegratorReportId",
    ]
    if "AppName" in data:
        values = [str(data.get(n) or "") for n in names]
    else:
        values = data_list(data) + [""] * len(names)
    facts: dict[str, Any] = {
        "event_name": "Application Error",
        "app_name": values[0] or None,
        "app_version": values[1] or None,
        "module_name": values[3] or None,
        "module_version": values[4] or None,
        "exception_code": code_text(values[6]),
        "fault_offset": hex_text(values[7]),
        "process_id": hex_text(values[8]),
        "app_path": values[10] or None,
        "module_path": values[11] or None,
        "report_id": values[12] or None,
        "record_id": record.record_id,
    }
    message = f"{values[0]} crashed in {values[3]} (exception {facts['exception_code']})"
    return _event(record, "app_crash", facts, message)


def _memory_diagnostic(record: _Record) -> Event:
    completion = find_key(record.user_data, "CompletionType") or find_key(record.data, "CompletionType")
    facts: dict[str, Any] = {"record_id": record.record_id}
    if isinstance(completion, str) and completion:
        facts["completion_type"] = completion
        facts["result"] = {"success": "no_errors", "fail": "errors_found"}.get(completion.lower(), "unknown")
        facts["result_source"] = "UserData CompletionType"
    elif record.event_id in _MEMDIAG_RESULT:
        facts["result"] = _MEMDIAG_RESULT[record.event_id]
        facts["result_source"] = f"event ID {record.event_id}"
    else:
        facts["result"] = "unknown"
    facts.update({k: v for k, v in data_scalars(record.data).items() if k not in facts})
    message = {
        "no_errors": "Windows Memory Diagnostic detected no errors",
        "errors_found": "Windows Memory Diagnostic detected hardware errors",
    }.get(facts["result"], "Windows Memory Diagnostic result")
    return _event(record, "memory_diagnostic", facts, message)


def _whea(record: _Record) -> dict[str, Any]:
    facts = data_scalars(record.data)
    facts["record_id"] = record.record_id
    facts["level"] = _LEVELS.get(record.level or 0)
    return facts


def _previous_shutdown(record: _Record) -> dict[str, Any]:
    values = data_list(record.data)
    facts: dict[str, Any] = {"record_id": record.record_id}
    if len(values) >= 2:
        facts["previous_shutdown_local"] = f"{values[1]} {values[0]}".strip()
    binary = record.data.get("Binary")
    if isinstance(binary, str) and len(binary) >= 64:
        # Binary holds two SYSTEMTIMEs: the last moment the system was known alive, local then UTC.
        facts["previous_shutdown_utc"] = systemtime_iso(binary[32:64])
    return facts


def _shutdown_message(record: _Record) -> str:
    values = data_list(record.data)
    when = f" at {values[0]} on {values[1]}" if len(values) >= 2 else ""
    return f"the previous system shutdown{when} was unexpected (EventLog 6008)"


def _pair(bugchecks: list[_BugCheck]) -> list[Crash]:
    """One crash per bug check: events of different sources with the same code close in time merge."""
    groups: list[list[_BugCheck]] = []
    order = {"wer": 0, "wer_app": 1, "kernel_power": 2}
    for item in sorted(bugchecks, key=lambda b: order[b.kind]):
        home = None
        for group in groups:
            if any(other.kind == item.kind for other in group) or group[0].code != item.code:
                continue
            if _close(group[0].record, item.record):
                home = group
                break
        if home is None:
            groups.append([item])
        else:
            home.append(item)
    groups.sort(key=lambda g: g[0].record.moment or datetime.min.replace(tzinfo=UTC))
    return [_crash(group) for group in groups]


def _close(first: _Record, second: _Record) -> bool:
    if first.moment is None or second.moment is None:
        return False
    return abs((first.moment - second.moment).total_seconds()) <= PAIR_WINDOW_SECONDS


def _crash(group: list[_BugCheck]) -> Crash:
    main = group[0]  # WER 1001 first: it is the bug check report proper
    params = list(main.params)
    for other in group[1:]:
        params = [p if p is not None else q for p, q in zip(params, other.params, strict=True)]
    extra: dict[str, Any] = {
        "source_events": [
            {
                "event_id": b.record.event_id,
                "provider": b.record.provider,
                "record_id": b.record.record_id,
                "time": b.record.time,
            }
            for b in group
        ],
        "record_ids": [b.record.record_id for b in group],
        "time_note": "time the event was logged, at the boot after the crash",
    }
    if main.record.computer:
        extra["computer"] = main.record.computer
    for item in group:
        for key, value in item.extra.items():
            extra.setdefault(key, value)
    return Crash(
        bugcheck_code=f"0x{main.code:08x}",
        parameters=tuple(params),
        crash_time=main.record.time,
        extra=extra,
    )


def _event(record: _Record, kind: str, facts: dict[str, Any], message: str | None) -> Event:
    facts = {k: v for k, v in facts.items() if v is not None}
    facts.setdefault("record_id", record.record_id)
    return Event(
        event_id=record.event_id,
        provider=record.provider,
        time=record.time,
        kind=kind,
        message=message,
        data=facts,
    )


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 300 else text[:297] + "..."
