"""What Windows and its tools write about a crash, pasted as text: each form read by the windbg_text reader.

The texts are written here in the shapes Windows prints (values made up); the corpus holds real ones.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.parsers.detect import kind_of
from analysis.parsers.result import Crash, ParseResult
from analysis.rules import analyse_file


def read(tmp_path: Path, text: str) -> ParseResult:
    path = tmp_path / "paste.txt"
    path.write_text(text, encoding="utf-8")
    return analyse_file(path)


def only(result: ParseResult) -> Crash:
    assert result.kind == "windbg_text", result
    assert len(result.crashes) == 1, result.crashes
    return result.crashes[0]


EVENT_1001 = (
    "Windows crashed again last night. Event Viewer says:\n\n"
    "The computer has rebooted from a bugcheck.  The bugcheck was: 0x0000003b (0x00000000c0000005, "
    "0xfffff8061a2b3c4d, 0xffffa00112345670, 0x0000000000000000). A dump was saved in: "
    "C:\\Windows\\MEMORY.DMP. Report Id: 0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6.\n"
)


def test_bugcheck_event_text(tmp_path: Path) -> None:
    crash = only(read(tmp_path, EVENT_1001))
    assert crash.bugcheck_code == "0x0000003b"
    assert crash.bugcheck_name == "SYSTEM_SERVICE_EXCEPTION"
    assert crash.parameters == ("0xc0000005", "0xfffff8061a2b3c4d", "0xffffa00112345670", "0x0")
    assert crash.extra["text_form"] == "bugcheck_event"
    assert crash.extra["dump_file"] == "C:\\Windows\\MEMORY.DMP"


def test_bugcheck_event_in_chinese_and_german(tmp_path: Path) -> None:
    chinese = (
        "计算机已经从检测错误后重新启动。检测错误: 0x0000001a (0x0000000000041792, 0xffffde0111510468, "
        "0x0000200000000000, 0x0000000000000000)。已将转储的数据保存在: C:\\Windows\\MEMORY.DMP。报告 ID: 123。"
    )
    crash = only(read(tmp_path, chinese))
    assert (crash.bugcheck_code, crash.parameters[0]) == ("0x0000001a", "0x41792")
    german = (
        "Der Computer wurde nach einem schwerwiegenden Fehler neu gestartet. Der Fehlercode war: 0x0000009f "
        "(0x0000000000000003, 0xffffb20e1c2d3e40, 0xfffff80412345678, 0xffffb20e22334450)."
    )
    crash = only(read(tmp_path, german))
    assert crash.bugcheck_code == "0x0000009f"
    assert crash.parameters[3] == "0xffffb20e22334450"


def test_several_events_in_one_paste_are_several_crashes(tmp_path: Path) -> None:
    text = EVENT_1001 + EVENT_1001.replace("0x0000003b", "0x0000000a").replace("0xc0000005", "0x10")
    result = read(tmp_path, text)
    assert [c.bugcheck_code for c in result.crashes] == ["0x0000003b", "0x0000000a"]


def test_problem_signature_of_reliability_monitor(tmp_path: Path) -> None:
    text = (
        "Problem signature\nProblem Event Name:\tBlueScreen\nCode:\t3b\nParameter 1:\tc0000005\n"
        "Parameter 2:\tfffff80815a0f9c8\nParameter 3:\tffffbf0094c14e70\nParameter 4:\t0\n"
        "OS version:\t10_0_19045\nService Pack:\t0_0\n\nExtra information about the problem\n"
        "Bucket ID:\t0x3B_exampledrv!DispatchIoctl\n"
    )
    crash = only(read(tmp_path, text))
    assert crash.bugcheck_code == "0x0000003b"
    assert crash.parameters == ("0xc0000005", "0xfffff80815a0f9c8", "0xffffbf0094c14e70", "0x0")
    assert crash.os_build == "19045"
    assert crash.extra["failure_bucket"] == "0x3B_exampledrv!DispatchIoctl"


def test_windows_7_signature_with_bccode(tmp_path: Path) -> None:
    text = "BCCode:\t7e\nBCP1:\tFFFFFFFFC0000005\nBCP2:\tFFFFF88001234567\nBCP3:\tFFFFF88002345678\nBCP4:\t0\nOS Version:\t6_1_7601\n"
    crash = only(read(tmp_path, text))
    assert crash.bugcheck_code == "0x0000007e"
    assert crash.parameters[0] == "0xffffffffc0000005"


def test_kernel_power_41_code_is_decimal(tmp_path: Path) -> None:
    text = (
        "Log Name: System\nSource: Microsoft-Windows-Kernel-Power\nEvent ID: 41\n"
        '  <Data Name="BugcheckCode">159</Data>\n  <Data Name="BugcheckParameter1">0x3</Data>\n'
        '  <Data Name="BugcheckParameter2">0xffffb20e1c2d3e40</Data>\n'
        '  <Data Name="BugcheckParameter3">0xfffff80412345678</Data>\n'
        '  <Data Name="BugcheckParameter4">0xffffb20e22334450</Data>\n'
    )
    crash = only(read(tmp_path, text))
    assert crash.bugcheck_code == "0x0000009f"
    assert crash.bugcheck_name == "DRIVER_POWER_STATE_FAILURE"
    assert crash.parameters[0] == "0x3"


def test_kernel_power_41_without_code_is_no_crash(tmp_path: Path) -> None:
    text = "Source: Microsoft-Windows-Kernel-Power\nEvent ID: 41\nBugcheckCode 0\nBugcheckParameter1 0x0\n"
    result = read(tmp_path, text)
    assert result.crashes == ()
    assert len(result.errors) == 1 and result.errors[0].startswith("no crash found")


def test_stop_screen_of_windows_10(tmp_path: Path) -> None:
    text = (
        "Your PC ran into a problem and needs to restart. We're just collecting some error info.\n"
        "For more information about this issue and possible fixes, visit https://www.windows.com/stopcode\n"
        "If you call a support person, give them this info:\nStop code: SYSTEM_THREAD_EXCEPTION_NOT_HANDLED\n"
        "What failed: exampledrv.sys\n"
    )
    crash = only(read(tmp_path, text))
    assert crash.bugcheck_code == "0x0000007e"  # from the name, through the knowledge table
    assert crash.bugcheck_name == "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED"
    assert crash.culprit_module == "exampledrv.sys"
    assert crash.parameters == ()  # the screen shows none: nothing invented


def test_stop_screen_of_windows_xp(tmp_path: Path) -> None:
    text = (
        "A problem has been detected and Windows has been shut down to prevent damage to your computer.\n\n"
        "DRIVER_IRQL_NOT_LESS_OR_EQUAL\n\nTechnical information:\n\n"
        "*** STOP: 0x000000D1 (0x00000000,0x00000002,0x00000000,0xF86B5A89)\n\n"
        "***       gv3.sys - Address F86B5A89 base at F86B5000, DateStamp 3dd991eb\n"
    )
    crash = only(read(tmp_path, text))
    assert crash.bugcheck_code == "0x000000d1"
    assert crash.bugcheck_name == "DRIVER_IRQL_NOT_LESS_OR_EQUAL"
    assert crash.parameters == ("0x0", "0x2", "0x0", "0xf86b5a89")
    assert crash.culprit_module == "gv3.sys"


@pytest.mark.parametrize(
    "text",
    [
        "Faulting application name: viewer.exe, version: 2.1.0.0, time stamp: 0x5f3c2a10\n"
        "Faulting module name: vendorplugin.dll, version: 1.0.0.3, time stamp: 0x5e1d0b22\n"
        "Exception code: 0xc0000005\nFault offset: 0x000000000001a2b3\nFaulting process id: 0x1f40\n",
        "错误应用程序名称: viewer.exe，版本: 2.1.0.0，时间戳: 0x5f3c2a10\n"
        "错误模块名称: vendorplugin.dll，版本: 1.0.0.3，时间戳: 0x5e1d0b22\n"
        "异常代码: 0xc0000005\n错误偏移量: 0x000000000001a2b3\n",
    ],
    ids=["english", "chinese"],
)
def test_application_error_event(tmp_path: Path, text: str) -> None:
    crash = only(read(tmp_path, text))
    assert crash.bugcheck_code is None
    assert crash.exception_code == "0xc0000005"
    assert crash.process_name == "viewer.exe"
    assert crash.culprit_module == "vendorplugin.dll"


def test_debugger_second_chance_and_attach_break(tmp_path: Path) -> None:
    text = (
        "(1a2c.3f4): Break instruction exception - code 80000003 (first chance)\n"
        "ntdll!DbgBreakPoint:\n0:003> g\n"
        "(1a2c.2b8): Access violation - code c0000005 (!!! second chance !!!)\n"
        "vendorplugin!Render+0x2e:\n"
    )
    crash = only(read(tmp_path, text))
    assert crash.exception_code == "0xc0000005"
    assert crash.extra["chance"] == "second"


def test_visual_studio_unhandled_exception(tmp_path: Path) -> None:
    text = (
        "Unhandled exception at 0x00007FFB6C2A1F3E (vendorplugin.dll) in viewer.exe: 0xC0000005: "
        "Access violation reading location 0x0000000000000010.\n"
    )
    crash = only(read(tmp_path, text))
    assert (crash.exception_code, crash.exception_address) == ("0xc0000005", "0x7ffb6c2a1f3e")
    assert (crash.process_name, crash.culprit_module) == ("viewer.exe", "vendorplugin.dll")


def test_dot_bugcheck_with_a_damaged_argument(tmp_path: Path) -> None:
    text = "kd> .bugcheck\nBugcheck code 0000001e\nArguments c0000005 8013cd0a 00000000 0362cffff\n"
    crash = only(read(tmp_path, text))
    assert crash.bugcheck_code == "0x0000001e"
    # Nine digits where the debugger prints eight: damaged in the paste, so not read.
    assert crash.parameters == ("0xc0000005", "0x8013cd0a", "0x0", None)


def test_bluescreenview_export_with_two_dumps(tmp_path: Path) -> None:
    record = (
        "==================================================\n"
        "Dump File         : {name}\nCrash Time        : 3/10/2023 1:31:02 PM\n"
        "Bug Check String  : {string}\nBug Check Code    : {code}\nParameter 1       : ffffe000`12345678\n"
        "Parameter 2       : 00000000`00000002\nParameter 3       : 00000000`00000000\n"
        "Parameter 4       : fffff801`23456789\nCaused By Driver  : exampledrv.sys\n"
        "Caused By Address : exampledrv.sys+1a2b\nProcessor         : x64\nMajor Version     : 15\n"
        "Minor Version     : 19041\n==================================================\n"
    )
    text = record.format(
        name="031023-11234-01.dmp", string="DRIVER_IRQL_NOT_LESS_OR_EQUAL", code="0x000000d1"
    )
    text += record.format(name="031123-9876-01.dmp", string="", code="0x0000000a")
    result = read(tmp_path, text)
    assert [c.bugcheck_code for c in result.crashes] == ["0x000000d1", "0x0000000a"]
    first = result.crashes[0]
    assert first.parameters == ("0xffffe00012345678", "0x2", "0x0", "0xfffff80123456789")
    assert first.os_build == "19041"
    assert first.extra["dump_file"] == "031023-11234-01.dmp"


def test_whocrashed_report(tmp_path: Path) -> None:
    text = (
        "On Fri 10/03/2023 13:31:02 your computer crashed or a problem was reported\n"
        "crash dump file: C:\\Windows\\Minidump\\031023-11234-01.dmp\n"
        "This was probably caused by the following module: exampledrv.sys (exampledrv+0x1a2b)\n"
        "Bugcheck code: 0xD1 (0xFFFFE00012345678, 0x2, 0x0, 0xFFFFF80123456789)\n"
        "Error: DRIVER_IRQL_NOT_LESS_OR_EQUAL\n"
    )
    crash = only(read(tmp_path, text))
    assert crash.bugcheck_code == "0x000000d1"
    assert crash.culprit_module == "exampledrv.sys"
    assert crash.bugcheck_name == "DRIVER_IRQL_NOT_LESS_OR_EQUAL"


def test_prose_about_codes_is_no_crash(tmp_path: Path) -> None:
    text = "Is 0x3B a driver problem? I read that stop codes like CRITICAL_PROCESS_DIED mean many things.\n"
    assert kind_of(text.encode()) == "unknown"
