"""What Windows and its tools write about a crash, as people paste it: the System log's bug check event,
Windows Error Reporting's problem signature, Application Error events, the blue screen itself, the
debugger's `.bugcheck` and exception lines, and the reports of BlueScreenView and WhoCrashed.

References: the Microsoft-Windows-WER-SystemErrorReporting 1001 message ("The computer has rebooted
from a bugcheck. The bugcheck was: {code (p1, p2, p3, p4)}. A dump was saved in: {path}"), Kernel-Power
41's event data (BugcheckCode in decimal), WER's BlueScreen/APPCRASH signature parameters (P1 = code,
P2-P5 = parameters), the Application Error 1000 message, the Windows 8+ stop screen ("Stop code:",
"What failed:"), the pre-8 stop screen ("*** STOP: 0x.. (..)"), the debugger's `.bugcheck` and
first/second-chance exception lines, NirSoft BlueScreenView's text export and WhoCrashed's report
(research/analysis-spec.md section 2). Localised message texts are matched by their numbers, which are
the same in every language.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from analysis.parsers._textio import code_value, hex_value

_HEX = r"(?:0x)?[0-9a-fA-F`]{1,17}"
# "0x0000003b (0x00000000c0000005, 0xfffff8..., 0xffffbf..., 0x0000000000000000)": the bug check event's
# text in every language, the stop screen before Windows 8 and WhoCrashed all print a code like this.
_CODE_WITH_PARAMS = re.compile(
    rf"(?<![\w`])(0x[0-9a-fA-F]{{1,8}})\s*\(\s*({_HEX})\s*,\s*({_HEX})\s*,\s*({_HEX})\s*,\s*({_HEX})\s*\)"
)
_DUMP_SAVED = re.compile(
    r"(?:A dump was saved in|dump[^:\n]{0,40}saved[^:\n]{0,20}|转储[^:：\n]{0,20})[:：]\s*([A-Za-z]:\\[^\s,。]+?\.dmp)",
    re.I,
)
_REPORT_ID = re.compile(r"(?:Report Id|报告 ID|Berichts-ID)[:：]?\s*([0-9a-fA-F-]{8,36})", re.I)
# `.bugcheck`: "Bugcheck code 0000001e" then "Arguments c0000005 8013cd0a 00000000 0362cfff".
_DOT_BUGCHECK = re.compile(
    r"Bugcheck code ([0-9a-fA-F]{8})\s*\n\s*Arguments((?:[ \t]+[0-9a-fA-F`]+){1,4})[ \t]*$", re.M
)
# WER problem signature, Reliability Monitor and Application log 1001 ("Code: 3b" / "BCCode: 3b").
_SIGNATURE_CODE = re.compile(r"(?im)^\s*(?:BCCode|Code|错误代码|代码)\s*[:：]\s*([0-9a-fA-F]{1,8})\s*$")
_SIGNATURE_PARAM = re.compile(
    r"(?im)^\s*(?:BCP([1-4])|Parameter ([1-4])|参数\s*([1-4]))\s*[:：]\s*([0-9a-fA-F`]{1,17})\s*$"
)
_BLUESCREEN_EVENT = re.compile(r"(?im)(?:Problem Event Name|问题事件名称|Event Name)\s*[:：]\s*BlueScreen")
_BUCKET_ID = re.compile(r"(?im)^\s*(?:Bucket ID|存储段 ID)\s*[:：]\s*(\S+)")
_OS_VERSION_SIG = re.compile(r"(?im)^\s*(?:OS version|操作系统版本)\s*[:：]\s*(\d+)_(\d+)_(\d{4,5})")
# Kernel-Power 41 in the event viewer's friendly or XML view: the code is DECIMAL (159 = 0x9f).
_KP41_CODE = re.compile(r"BugcheckCode\W{0,20}?(\d{1,10})\b")
_KP41_PARAM = re.compile(r"BugcheckParameter([1-4])\W{0,20}?(0x[0-9a-fA-F]+|\d+)\b")
# The stop screens.
_STOP_CODE = re.compile(
    r"(?im)(?:Stop code|Stop Code|终止代码|停止代码|Stoppcode)\s*[:：]\s*([A-Z][A-Z0-9_]{3,}|0x[0-9a-fA-F]{8})"
)
_WHAT_FAILED = re.compile(
    r"(?im)(?:What failed|失败的操作|失败的内容|Fehlerursache)\s*[:：]\s*([\w.\-]+\.(?:sys|exe|dll))"
)
_OLD_STOP_DRIVER = re.compile(
    r"\*\*\*\s+([\w.\-]+\.(?:sys|dll|exe))\s+-\s+Address\s+([0-9a-fA-F]{8,16})", re.I
)
# Application Error 1000 and WER APPCRASH: the crashing process, module and exception code.
_FAULTING_APP = re.compile(
    r"(?im)(?:Faulting application name|错误应用程序名称|Name der fehlerhaften Anwendung|Application Name|应用程序名)"
    r"\s*[:：]\s*([^\s,，]+\.exe)"
)
_FAULTING_MODULE = re.compile(
    r"(?im)(?:Faulting module name|错误模块名称|Name des fehlerhaften Moduls|Fault Module Name|故障模块名称)"
    r"\s*[:：]\s*([^\s,，]+)"
)
_EXCEPTION_CODE = re.compile(
    r"(?im)(?:Exception code|异常代码|Ausnahmecode)\s*[:：]\s*(?:0x)?([0-9a-fA-F]{8})\b"
)
_FAULT_OFFSET = re.compile(
    r"(?im)(?:Fault offset|Exception Offset|错误偏移量|异常偏移|Fehleroffset)\s*[:：]\s*(0x[0-9a-fA-F]+|[0-9a-fA-F]{8,16})"
)
# Debuggers' exception lines: cdb/WinDbg "(1a2c.3f4): Access violation - code c0000005 (!!! second chance !!!)"
# and Visual Studio's "Unhandled exception at 0x00007FF6... in app.exe: 0xC0000005: Access violation ...".
_CHANCE = re.compile(
    r"\(([0-9a-f]+)\.([0-9a-f]+)\): ([^\n]*?) - code ([0-9a-fA-F]{8}) \((first|!!! second) chance"
)
_VS_UNHANDLED = re.compile(
    r"(?:Unhandled exception|Exception thrown) at (0x[0-9a-fA-F]+)(?: \(([\w.\-]+)\))? in ([\w.\-]+\.exe): (0x[0-9a-fA-F]{8})"
)
# BlueScreenView's text export (one block per dump) and WhoCrashed's report.
_BSV_FIELD = re.compile(
    r"(?m)^\s*(Dump File|Crash Time|Bug Check String|Bug Check Code|Parameter [1-4]|Caused By Driver|Caused By Address|Processor|Major Version|Minor Version)[ \t]*:[ \t]*(.*?)[ \t]*$"
)
_WHOCRASHED_MODULE = re.compile(
    r"probably caused by the following module:\s*([\w.\-]+\.(?:sys|exe|dll))", re.I
)
_WHOCRASHED_ERROR = re.compile(r"(?m)^\s*Error:\s*([A-Z][A-Z0-9_]{3,})\s*$")
# An engineer's or user's list of bug checks: "Bugcheck 0xbe：ATTEMPTED_WRITE_TO_READONLY_MEMORY ...".
_LISTED = re.compile(
    r"(?im)^[ \t>*\-]*(?:Bug ?check|Stop)(?: code)?\s+(0x[0-9a-f]{1,8})\s*[:：]\s*([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b"
)
_BUGCHECK_NAME_NEAR = re.compile(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b")


@dataclass
class FormCrash:
    """A crash read from one of these forms: the same fields as a parser Crash, plus its form and place."""

    form: str
    start: int
    bugcheck_code: str | None = None
    bugcheck_name: str | None = None
    parameters: tuple[str | None, ...] = ()
    exception_code: str | None = None
    exception_address: str | None = None
    process_name: str | None = None
    culprit_module: str | None = None
    culprit_reason: str | None = None
    os_build: str | None = None
    crash_time: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def find(text: str) -> list[FormCrash]:
    """Every crash these forms describe in the text, in order of position."""
    found: list[FormCrash] = []
    for finder in (_bugcheck_events, _dot_bugcheck, _signatures, _kernel_power, _stop_screens, _app_errors,
                   _debugger_exceptions, _bluescreenview, _listed):  # fmt: skip
        found.extend(finder(text))
    found.sort(key=lambda c: c.start)
    return _without_repeats(found)


def _params(values: list[str]) -> tuple[str | None, ...]:
    return tuple(hex_value(v) for v in values)


def _bugcheck_events(text: str) -> Iterator[FormCrash]:
    for match in _CODE_WITH_PARAMS.finditer(text):
        code = code_value(match.group(1))
        if code is None:
            continue
        window = text[max(0, match.start() - 300) : match.end() + 300]
        form = "stop_screen" if re.search(r"\*\*\*\s*STOP", window) else "bugcheck_event"
        if re.search(r"Bugcheck code:", text[max(0, match.start() - 40) : match.start()], re.I):
            form = "whocrashed"
        crash = FormCrash(
            form=form, start=match.start(), bugcheck_code=code, parameters=_params(list(match.groups()[1:]))
        )
        after = text[match.end() : match.end() + 400]
        dump = _DUMP_SAVED.search(after)
        if dump:
            crash.extra["dump_file"] = dump.group(1)
        report = _REPORT_ID.search(after)
        if report:
            crash.extra["report_id"] = report.group(1)
        if form == "stop_screen":
            name = _BUGCHECK_NAME_NEAR.findall(text[max(0, match.start() - 600) : match.start()])
            if name:
                crash.bugcheck_name = name[-1]
            driver = _OLD_STOP_DRIVER.search(text, match.end(), match.end() + 400)
            if driver:
                crash.culprit_module = driver.group(1)
                crash.culprit_reason = "named on the blue screen"
        if form == "whocrashed":
            _whocrashed(text, match.start(), crash)
        yield crash


def _whocrashed(text: str, at: int, crash: FormCrash) -> None:
    before = text[max(0, at - 700) : at]
    module = list(_WHOCRASHED_MODULE.finditer(before))
    if module:
        crash.culprit_module = module[-1].group(1)
        crash.culprit_reason = "named by WhoCrashed ('probably caused by')"
    error = _WHOCRASHED_ERROR.search(text, at, at + 300)
    if error:
        crash.bugcheck_name = error.group(1)


def _dot_bugcheck(text: str) -> Iterator[FormCrash]:
    for match in _DOT_BUGCHECK.finditer(text):
        values = match.group(2).split()
        params: list[str | None] = []
        for value in values[:4]:
            digits = value.replace("`", "")
            # The command prints every argument at pointer width; any other length is damaged.
            params.append(hex_value(value) if len(digits) in (8, 16) else None)
        params += [None] * (4 - len(params))
        yield FormCrash(
            form="dot_bugcheck",
            start=match.start(),
            bugcheck_code=code_value(match.group(1)),
            parameters=tuple(params),
        )


def _signatures(text: str) -> Iterator[FormCrash]:
    for event in _BLUESCREEN_EVENT.finditer(text):
        block = text[event.end() : event.end() + 1500]
        code = _SIGNATURE_CODE.search(block)
        if code is None:
            continue
        params: dict[int, str] = {}
        for match in _SIGNATURE_PARAM.finditer(block):
            index = int(match.group(1) or match.group(2) or match.group(3))
            params.setdefault(index, match.group(4))
        crash = FormCrash(
            form="wer_signature",
            start=event.start(),
            bugcheck_code=code_value(code.group(1)),
            parameters=tuple(hex_value(params.get(i)) for i in range(1, 5)) if params else (),
        )
        bucket = _BUCKET_ID.search(block)
        if bucket:
            crash.extra["failure_bucket"] = bucket.group(1)
        version = _OS_VERSION_SIG.search(block)
        if version:
            crash.os_build = version.group(3)
        yield crash
    # Windows 7's signature has no event-name line before BCCode.
    for code in re.finditer(r"(?im)^\s*BCCode\s*[:：]\s*([0-9a-fA-F]{1,8})\s*$", text):
        if _BLUESCREEN_EVENT.search(text, max(0, code.start() - 1500), code.start()):
            continue
        block = text[code.start() : code.start() + 800]
        params = {int(m.group(1)): m.group(4) for m in _SIGNATURE_PARAM.finditer(block) if m.group(1)}
        yield FormCrash(
            form="wer_signature",
            start=code.start(),
            bugcheck_code=code_value(code.group(1)),
            parameters=tuple(hex_value(params.get(i)) for i in range(1, 5)),
        )


def _kernel_power(text: str) -> Iterator[FormCrash]:
    for match in _KP41_CODE.finditer(text):
        try:
            number = int(match.group(1))
        except ValueError:
            continue
        if number == 0 or number > 0xFFFFFFFF:
            continue  # 0: a restart without a bug check (power loss, hard hang)
        block = text[match.end() : match.end() + 1200]
        params: dict[int, str | None] = {}
        for param in _KP41_PARAM.finditer(block):
            raw = param.group(2)
            value = hex_value(raw) if raw.lower().startswith("0x") else hex(int(raw))
            params.setdefault(int(param.group(1)), value)
        crash = FormCrash(
            form="kernel_power_41",
            start=match.start(),
            bugcheck_code=f"0x{number:08x}",
            parameters=tuple(params.get(i) for i in range(1, 5)) if params else (),
        )
        crash.extra["code_note"] = "Kernel-Power 41 gives BugcheckCode in decimal"
        yield crash


def _stop_screens(text: str) -> Iterator[FormCrash]:
    for match in _STOP_CODE.finditer(text):
        value = match.group(1)
        crash = FormCrash(form="stop_screen", start=match.start())
        if value.lower().startswith("0x"):
            crash.bugcheck_code = code_value(value)
        else:
            crash.bugcheck_name = value
        failed = _WHAT_FAILED.search(text, match.end(), match.end() + 300)
        if failed:
            crash.culprit_module = failed.group(1)
            crash.culprit_reason = "named on the blue screen ('What failed')"
        yield crash


def _app_errors(text: str) -> Iterator[FormCrash]:
    for match in _EXCEPTION_CODE.finditer(text):
        window_start = max(0, match.start() - 900)
        window = text[window_start : match.end() + 400]
        app = _FAULTING_APP.search(window)
        module = _FAULTING_MODULE.search(window)
        if app is None and module is None:
            continue
        crash = FormCrash(
            form="application_error",
            start=window_start + (app.start() if app else match.start() - window_start),
            exception_code=code_value(match.group(1)),
            process_name=app.group(1) if app else None,
        )
        if module:
            crash.culprit_module = module.group(1)
            crash.culprit_reason = "the faulting module the event names"
        offset = _FAULT_OFFSET.search(window)
        if offset:
            crash.extra["fault_offset"] = hex_value(offset.group(1))
        yield crash


def _debugger_exceptions(text: str) -> Iterator[FormCrash]:
    chances = list(_CHANCE.finditer(text))
    for match in chances:
        code = code_value(match.group(4))
        # The break-in when a debugger attaches or a process starts is not a crash.
        if code == "0x80000003" and match.group(5) == "first" and len(chances) > 1:
            continue
        yield FormCrash(
            form="debugger_exception",
            start=match.start(),
            exception_code=code,
            extra={
                "exception_text": match.group(3).strip(),
                "chance": "second" if "second" in match.group(5) else "first",
            },
        )
    for match in _VS_UNHANDLED.finditer(text):
        yield FormCrash(
            form="debugger_exception",
            start=match.start(),
            exception_code=code_value(match.group(4)),
            exception_address=hex_value(match.group(1)),
            process_name=match.group(3),
            culprit_module=match.group(2),
            culprit_reason="holds the exception address (the debugger's message)" if match.group(2) else None,
        )


def _bluescreenview(text: str) -> Iterator[FormCrash]:
    record: dict[str, str] = {}
    start = 0
    for match in _BSV_FIELD.finditer(text):
        name, value = match.group(1), match.group(2)
        if name == "Dump File" or (name in record and name != "Dump File"):
            if record:
                crash = _bsv_crash(record, start)
                if crash:
                    yield crash
            record, start = {}, match.start()
        record[name] = value
    if record:
        crash = _bsv_crash(record, start)
        if crash:
            yield crash


def _bsv_crash(record: dict[str, str], start: int) -> FormCrash | None:
    code = code_value(record.get("Bug Check Code"))
    if code is None:
        return None
    crash = FormCrash(
        form="bluescreenview",
        start=start,
        bugcheck_code=code,
        bugcheck_name=record.get("Bug Check String") or None,
        parameters=tuple(hex_value(record.get(f"Parameter {i}")) for i in range(1, 5)),
    )
    driver = record.get("Caused By Driver")
    if driver:
        crash.culprit_module = driver
        crash.culprit_reason = "BlueScreenView's 'Caused By Driver' (a stack scan, not proof)"
    if record.get("Minor Version", "").isdigit():
        crash.os_build = record["Minor Version"]
    if record.get("Dump File"):
        crash.extra["dump_file"] = record["Dump File"]
    return crash


def _listed(text: str) -> Iterator[FormCrash]:
    # Only a list (two lines or more, one bug check each) is a record of crashes; one such line is prose.
    matches = list(_LISTED.finditer(text))
    if len(matches) < 2:
        return
    for match in matches:
        yield FormCrash(
            form="bugcheck_list",
            start=match.start(),
            bugcheck_code=code_value(match.group(1)),
            bugcheck_name=match.group(2),
        )


def _without_repeats(found: list[FormCrash]) -> list[FormCrash]:
    """One crash once: a paste often quotes the same bug check as event text and as signature."""
    kept: list[FormCrash] = []
    for crash in found:
        key = (crash.bugcheck_code, crash.exception_code, crash.parameters)
        twin = next(
            (k for k in kept if (k.bugcheck_code, k.exception_code) == key[:2] and _compatible(k, crash)),
            None,
        )
        if twin is None:
            kept.append(crash)
            continue
        for name in (
            "bugcheck_name",
            "culprit_module",
            "culprit_reason",
            "process_name",
            "os_build",
            "exception_address",
        ):
            if getattr(twin, name) is None and getattr(crash, name) is not None:
                setattr(twin, name, getattr(crash, name))
        if not twin.parameters and crash.parameters:
            twin.parameters = crash.parameters
        for key_name, value in crash.extra.items():
            twin.extra.setdefault(key_name, value)
    return kept


def _compatible(a: FormCrash, b: FormCrash) -> bool:
    if a.bugcheck_code is None and a.exception_code is None:
        return False
    if a.parameters and b.parameters:
        return all(
            x is None or y is None or int(x, 16) == int(y, 16)
            for x, y in zip(a.parameters, b.parameters, strict=False)
        )
    return a.form != b.form or a.form == "stop_screen"
