"""WinDbg !analyze -v text: the public pastes against their sidecars, the seed case, and own fixtures."""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import pytest

from analysis.parsers import _textio, parse_file, windbg_text
from analysis.parsers.result import Crash, ParseResult
from tests.analysis.text_samples import annotated, excerpt_body, first_token, require, same_number, sidecar
from tests.samples import SEED_CASE, sample_params

CLASSIC = """\
Loading Dump File [C:\\Windows\\Minidump\\031023-11234-01.dmp]
Mini Kernel Dump File: Only registers and stack trace are available
Windows 10 Kernel Version 19041 MP (8 procs) Free x64
Built by: 19041.1.amd64fre.vb_release.191206-1406
Debug session time: Fri Mar 10 21:31:02.123 2023 (UTC + 8:00)
System Uptime: 0 days 2:11:40.016
BugCheck BE, {fffffec500007038, 8a00000004000021, fffff582b04ea8d0, b}

Probably caused by : ntkrnlmp.exe ( nt!MiSystemFault+1d6d0d )

Followup:     MachineOwner
---------

4: kd> !analyze -v
*******************************************************************************
*                                                                             *
*                        Bugcheck Analysis                                    *
*                                                                             *
*******************************************************************************

ATTEMPTED_WRITE_TO_READONLY_MEMORY (be)
An attempt was made to write to readonly memory.
Arguments:
Arg1: fffffec500007038, Virtual address for the attempted write.
Arg2: 8a00000004000021, PTE contents.
Arg3: fffff582b04ea8d0, (reserved)
Arg4: 000000000000000b, (reserved)

Debugging Details:
------------------

DUMP_CLASS: 1

BUILD_VERSION_STRING:  19041.1.amd64fre.vb_release.191206-1406

CUSTOMER_CRASH_COUNT:  1

DEFAULT_BUCKET_ID:  WIN8_DRIVER_FAULT

BUGCHECK_STR:  0xBE

PROCESS_NAME:  smss.exe

CURRENT_IRQL:  0

STACK_TEXT:
fffff582`b04ea628 fffff800`73436f8d : 00000000`000000be fffffec5`00007038 8a000000`04000021 fffff582`b04ea8d0 : nt!KeBugCheckEx
fffff582`b04ea630 fffff800`73242250 : fffff582`00000000 00000000`00000003 fffff582`b04ea950 00000000`00000000 : nt!MiSystemFault+0x1d6d0d
fffff582`b04ea730 fffff800`73409cd8 : ffffa208`fb513870 ffffb808`95ed2010 ffffa208`00000000 ffffb808`812ae040 : nt!MmAccessFault+0x400
fffff582`b04ea8d0 fffff800`732cc9f1 : 00000000`000001c0 fffff800`732ca537 00000000`00000000 fffff800`73c4edc0 : SfUemIsoSpace+0x1a2b
fffff582`b04eaa60 fffff800`732ca537 : 00000000`00000000 fffff800`73c4edc0 ffffc901`af787370 00000000`00000010 : nt!RtlInterlockedSetClearRunEx+0x71


SYMBOL_NAME:  SfUemIsoSpace+1a2b

MODULE_NAME: SfUemIsoSpace

IMAGE_NAME:  SfUemIsoSpace.sys

FAILURE_BUCKET_ID:  0xBE_SfUemIsoSpace!unknown_function

FAILURE_ID_HASH:  {0b9c7b1e-2a3f-4c0d-9e1a-7a1f7d7c6b21}

Followup:     MachineOwner
---------
"""

KEY_VALUE = """\
*******************************************************************************
*                        Bugcheck Analysis                                    *
*******************************************************************************

SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M (1000007e)
Arguments:
Arg1: ffffffffc0000005, The exception code that was not handled
Arg2: fffff8061c2d1a4b, The address that the exception occurred at
Arg3: ffffb50b8e6f6968, Exception Record Address
Arg4: ffffb50b8e6f61a0, Context Record Address

Debugging Details:
------------------

KEY_VALUES_STRING: 1

    Key  : Bugcheck.Code.LegacyAPI
    Value: 0x1000007e

    Key  : Failure.Bucket
    Value: AV_exampledrv!ExampleDispatch

    Key  : WER.OS.Version
    Value: 10.0.22621.1


BUGCHECK_CODE:  7e

BUGCHECK_P1: ffffffffc0000005

BUGCHECK_P2: fffff8061c2d1a4b

BUGCHECK_P3: ffffb50b8e6f6968

BUGCHECK_P4: ffffb50b8e6f61a0

EXCEPTION_RECORD:  ffffb50b8e6f6968 -- (.exr 0xffffb50b8e6f6968)
ExceptionAddress: fffff8061c2d1a4b (exampledrv!ExampleDispatch+0x000000000000004b)
   ExceptionCode: c0000005 (Access violation)
  ExceptionFlags: 00000000

PROCESS_NAME:  System

STACK_TEXT:
ffffb50b`8e6f6ba0 fffff806`1bd1f3c5 : 00000000`00000000 00000000`00000000 00000000`00000000 00000000`00000000 : exampledrv!ExampleDispatch+0x4b
ffffb50b`8e6f6c00 fffff806`1be08a94 : 00000000`00000000 00000000`00000000 00000000`00000000 00000000`00000000 : nt!PspSystemThreadStartup+0x55

SYMBOL_NAME:  exampledrv!ExampleDispatch+4b

MODULE_NAME: exampledrv

IMAGE_NAME:  exampledrv.sys

OSPLATFORM_TYPE:  x64

FAILURE_BUCKET_ID:  AV_exampledrv!ExampleDispatch
"""

USER_MODE = """\
0:000> !analyze -v
*******************************************************************************
*                        Exception Analysis                                   *
*******************************************************************************

EXCEPTION_RECORD:  (.exr -1)
ExceptionAddress: 00007ffb6c2a1f3e (vendorplugin!Render+0x000000000000002e)
   ExceptionCode: c0000005 (Access violation)
  ExceptionFlags: 00000000
NumberParameters: 2
   Parameter[0]: 0000000000000000
   Parameter[1]: 0000000000000010
Attempt to read from address 0000000000000010

PROCESS_NAME:  viewer.exe

ERROR_CODE: (NTSTATUS) 0xc0000005 - The instruction at 0x%p referenced memory at 0x%p.

STACK_TEXT:
00000025`3a0ff6d0 00007ff6`1b2c10a4 : 00000000`00000000 00000000`00000000 00000000`00000000 00000000`00000000 : vendorplugin!Render+0x2e
00000025`3a0ff700 00007ffb`6e417034 : 00000000`00000000 00000000`00000000 00000000`00000000 00000000`00000000 : viewer+0x10a4

IMAGE_NAME:  vendorplugin.dll

FAILURE_BUCKET_ID:  NULL_CLASS_PTR_READ_c0000005_vendorplugin.dll!Render
"""

X86 = """\
DRIVER_IRQL_NOT_LESS_OR_EQUAL (d1)
Arguments:
Arg1: 00000004, memory referenced
Arg2: 00000002, IRQL
Arg3: 00000000, value 0 = read operation, 1 = write operation
Arg4: f7a1c2d3, address which referenced memory

STACK_TEXT:
a8b7cc34 804f8cc5 000000d1 00000004 00000002 nt!KeBugCheckEx+0x1b
a8b7cc58 f7a1c2d3 00000000 00000000 00000000 olddrv!PollDevice+0x33

MODULE_NAME: olddrv

IMAGE_NAME:  olddrv.sys
"""


def parse_text_file(tmp_path: Path, text: str | bytes, name: str = "analysis.txt") -> ParseResult:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return windbg_text.parse(path)


def only_crash(result: ParseResult) -> Crash:
    assert result.kind == "windbg_text"
    assert len(result.crashes) == 1, result
    return result.crashes[0]


# --- the public pastes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sample_params("windbg_text", "*.txt"))
def test_sample_matches_its_sidecar(path: Path | None) -> None:
    path = require(path)
    truth = sidecar(path)["ground_truth"]
    body = excerpt_body(path)
    result = windbg_text.parse(path)
    crash = only_crash(result)
    assert result.errors == ()

    code = truth.get("bugcheck_code")
    if code is None or not str(code).startswith("0x"):
        assert crash.bugcheck_code is None
    else:
        assert same_number(crash.bugcheck_code, first_token(code))
        assert crash.bugcheck_code == f"0x{int(first_token(code) or '0', 16):08x}"
    if truth.get("exception_code"):
        assert crash.exception_code == truth["exception_code"]
        assert crash.bugcheck_code is None

    name = truth.get("bugcheck_name")
    if name and re.search(rf"(?m)^\s*{name} \(", body):
        assert crash.bugcheck_name == name
    else:
        assert crash.bugcheck_name in (None, name)

    args = truth.get("args")
    if args is None:
        assert crash.parameters == ()
    else:
        assert [first_token(a) for a in args] == list(crash.parameters)

    process = truth.get("process_name")
    if process is None or annotated(process):
        assert crash.process_name is None
    else:
        assert crash.process_name == process

    for key in ("failure_bucket", "symbol_name", "default_bucket_id", "bugcheck_str", "faulting_ip"):
        if key not in truth:
            continue
        value = truth[key]
        if value is None or annotated(value):
            assert crash.extra.get(key) is None, key
        else:
            assert crash.extra.get(key) == value, key

    image = truth.get("image_name")
    if image is None or annotated(image) or f"IMAGE_NAME:  {image}" not in body:
        # Not named by the debugger in the excerpt (issue title, stack reading): no culprit invented.
        assert crash.culprit_module is None
    else:
        assert crash.culprit_module == image
        assert crash.culprit_reason and "debugger" in crash.culprit_reason

    module = truth.get("module_name")
    if module and not annotated(module) and module in body:
        seen = {crash.extra.get("module_name"), crash.extra.get("faulting_module")}
        seen |= {frame.module for frame in crash.stack}
        assert module in seen or module in (crash.extra.get("failure_bucket") or "")
    elif module:
        assert crash.extra.get("module_name") is None

    if crash.os_build is not None:
        assert str(first_token(truth.get("os_build"))).split(".")[
            -2 if "10.0." in str(truth.get("os_build")) else 0
        ] == (crash.os_build)


def test_cut_off_values_are_none_never_guessed(samples) -> None:
    sandboxie = samples("windbg_text/0x3B_Sandboxie_4421.txt")
    crash = only_crash(windbg_text.parse(sandboxie))
    assert crash.parameters == ("0xc0000005", "0xfffff8016c81b589", None, None)

    dokan = samples("windbg_text/0x3B_dokan-dotnet_68.txt")
    crash = only_crash(windbg_text.parse(dokan))
    # BUGCHECK_P3 is cut to "fff" at the end of the paste; the complete Arg3 line wins.
    assert crash.parameters[2] == "0xffffd000fd637880"
    assert "BUGCHECK_P3" in crash.extra["cut_off"]


def test_flattened_sample_reads_fields_and_stack(samples) -> None:
    path = samples("windbg_text/0x50_KDU_113_flattened.txt")
    crash = only_crash(windbg_text.parse(path))
    assert crash.process_name == "kdu.exe"
    assert crash.os_build == "19041"
    assert [f.symbol for f in crash.stack[:2]] == ["DbgBreakPointWithStatus", "KiBugCheckDebugBreak"]
    assert crash.stack[1].offset == "0x12"


def test_stack_only_sample_takes_code_from_kebugcheckex_frame(samples) -> None:
    path = samples("windbg_text/0x50_systeminformer_1525_stack.txt")
    crash = only_crash(windbg_text.parse(path))
    assert crash.bugcheck_code == "0x00000050"
    assert crash.extra["bugcheck_code_source"] == "nt!KeBugCheckEx stack arguments"
    assert crash.parameters[3] is None
    third_party = [f for f in crash.stack if f.module not in ("nt",)]
    assert third_party[0].module == "SystemInformer"
    assert third_party[0].symbol is None and third_party[0].offset == "0xa660"


def test_trap_frame_symbol_and_unverified_modules_are_kept(samples) -> None:
    crash = only_crash(windbg_text.parse(samples("windbg_text/0x1A_ReadPhysicalMemory_4.txt")))
    assert crash.extra["faulting_module"] == "etw_hook"
    assert crash.architecture == "x64"
    crash = only_crash(windbg_text.parse(samples("windbg_text/0x1E_KDU_144.txt")))
    assert crash.extra["unverified_timestamp_modules"] == ["PROCEXP152.sys"]
    crash = only_crash(windbg_text.parse(samples("windbg_text/0x9F_BthPS3_42.txt")))
    assert crash.extra["dump_file"] == "050122-10500-01.dmp"
    assert crash.extra["dump_type"] == "Kernel Generated Triage Dump"


def test_osr_preamble_gives_crash_time_and_build(samples) -> None:
    crash = only_crash(windbg_text.parse(samples("windbg_text/0xFC_WSL_1174_osr.txt")))
    assert crash.crash_time == "2016-10-08T00:46:54Z"  # 20:46:54 at UTC-4
    assert crash.os_build == "14936"
    assert crash.architecture == "x64"
    assert crash.extra["system_uptime"] == "0 days 0:02:21.434"


def test_user_mode_samples_have_exception_fields(samples) -> None:
    crash = only_crash(windbg_text.parse(samples("windbg_text/user_dotnet-diagnostics_4099.txt")))
    assert (crash.exception_code, crash.bugcheck_code, crash.parameters) == ("0xa8527f6c", None, ())
    assert crash.process_name == "aotExc.exe"
    assert crash.extra["analysis"] == "user"
    assert [f.module for f in crash.stack[:3]] == ["ntdll", "KERNELBASE", "aotExc"]


def test_seed_case_stack_and_arguments(samples) -> None:
    seed = samples(SEED_CASE)
    result = windbg_text.parse(seed)
    # The engineer lists the log's other bug checks ("Bugcheck 0x1a：MEMORY_MANAGEMENT ..."): code and name
    # only; the 0xBE line is the analysed crash itself.
    listed = result.crashes[1:]
    assert [(c.bugcheck_code, c.bugcheck_name, c.parameters) for c in listed] == [
        ("0x0000001a", "MEMORY_MANAGEMENT", ()),
        ("0x000000c2", "BAD_POOL_CALLER", ()),
        ("0x0000007e", "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED", ()),
    ]
    crash = result.crashes[0]
    assert crash.extra["drivers_mentioned"] == ["SfUemIsoSpace.sys"]
    assert crash.bugcheck_code == "0x000000be"
    assert crash.bugcheck_name == "ATTEMPTED_WRITE_TO_READONLY_MEMORY"
    assert crash.extra["bugcheck_heading"] == "ATTEMPTED_WRITE_TO_READONLY_MEMORY (be)"
    assert crash.parameters == ("0xfffffec500007038", "0x8a00000004000021", "0xfffff582b04ea8d0", "0xb")
    assert len(crash.stack) == 27  # the `dd` dump lines after the stack are not frames
    top = crash.stack[0]
    assert (top.module, top.symbol, top.offset, top.address) == ("nt", "KeBugCheckEx", "0x0", None)
    fault = crash.stack[1]
    assert (fault.module, fault.symbol, fault.offset) == ("nt", "MiSystemFault", "0x1d6d0d")
    assert fault.address == "0xfffff80073436f8d"  # KeBugCheckEx's return address
    win32k = crash.stack[10]
    assert (win32k.module, win32k.symbol, win32k.offset) == (
        "win32kfull",
        "InitializeWin32CrossSessionGlobals",
        "0x10d",
    )
    assert crash.stack[-1].symbol == "RtlUserThreadStart"
    assert {"smss"} <= {f.module for f in crash.stack}
    assert crash.process_name is None  # the thread names smss.exe in prose only


# --- own fixtures ---------------------------------------------------------------------------------------


def test_complete_classic_analysis(tmp_path: Path) -> None:
    crash = only_crash(parse_text_file(tmp_path, CLASSIC))
    assert crash.bugcheck_code == "0x000000be"
    assert crash.bugcheck_name == "ATTEMPTED_WRITE_TO_READONLY_MEMORY"
    assert crash.parameters == ("0xfffffec500007038", "0x8a00000004000021", "0xfffff582b04ea8d0", "0xb")
    assert crash.process_name == "smss.exe"
    assert crash.culprit_module == "SfUemIsoSpace.sys"
    assert "IMAGE_NAME" in (crash.culprit_reason or "")
    assert crash.crash_time == "2023-03-10T13:31:02Z"
    assert (crash.os_build, crash.architecture) == ("19041", "x64")
    assert crash.extra["failure_bucket"] == "0xBE_SfUemIsoSpace!unknown_function"
    assert crash.extra["symbol_name"] == "SfUemIsoSpace+1a2b"
    assert crash.extra["module_name"] == "SfUemIsoSpace"
    assert crash.extra["default_bucket_id"] == "WIN8_DRIVER_FAULT"
    assert crash.extra["dump_file"] == "C:\\Windows\\Minidump\\031023-11234-01.dmp"
    assert len(crash.stack) == 5
    assert crash.stack[3].module == "SfUemIsoSpace" and crash.stack[3].offset == "0x1a2b"
    assert crash.stack[3].symbol is None


def test_key_value_style(tmp_path: Path) -> None:
    crash = only_crash(parse_text_file(tmp_path, KEY_VALUE))
    # BUGCHECK_CODE says 7e while the heading and LegacyAPI say 1000007e: the field wins, the _M form is
    # still visible in the heading.
    assert crash.bugcheck_code == "0x0000007e"
    assert crash.extra["bugcheck_heading"] == "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M (1000007e)"
    assert crash.parameters == (
        "0xffffffffc0000005",
        "0xfffff8061c2d1a4b",
        "0xffffb50b8e6f6968",
        "0xffffb50b8e6f61a0",
    )
    assert crash.culprit_module == "exampledrv.sys"
    assert crash.os_build == "22621"
    assert crash.extra["key_values"]["Failure.Bucket"] == "AV_exampledrv!ExampleDispatch"
    assert crash.extra["exception_code"] == "0xc0000005"
    assert crash.exception_code is None  # a kernel crash keeps exception facts in extra
    assert crash.stack[0].symbol == "ExampleDispatch"


def test_heading_code_used_as_given_when_no_bugcheck_code_field(tmp_path: Path) -> None:
    text = KEY_VALUE.replace("BUGCHECK_CODE:  7e\n", "")
    crash = only_crash(parse_text_file(tmp_path, text))
    assert crash.bugcheck_code == "0x1000007e"


def test_user_mode_exception_analysis(tmp_path: Path) -> None:
    crash = only_crash(parse_text_file(tmp_path, USER_MODE))
    assert crash.bugcheck_code is None and crash.parameters == ()
    assert crash.exception_code == "0xc0000005"
    assert crash.exception_name == "Access violation"
    assert crash.exception_address == "0x7ffb6c2a1f3e"
    assert crash.culprit_module == "vendorplugin"
    assert "exception" in (crash.culprit_reason or "")
    assert crash.process_name == "viewer.exe"


def test_x86_eight_digit_arguments(tmp_path: Path) -> None:
    crash = only_crash(parse_text_file(tmp_path, X86))
    assert crash.bugcheck_code == "0x000000d1"
    assert crash.parameters == ("0x4", "0x2", "0x0", "0xf7a1c2d3")
    assert [f.symbol for f in crash.stack] == ["KeBugCheckEx", "PollDevice"]
    assert crash.stack[1].address == "0x804f8cc5"
    assert crash.culprit_module == "olddrv.sys"


def test_flattened_whitespace(tmp_path: Path) -> None:
    crash = only_crash(parse_text_file(tmp_path, " ".join(CLASSIC.split())))
    assert crash.bugcheck_code == "0x000000be"
    assert crash.parameters == ("0xfffffec500007038", "0x8a00000004000021", "0xfffff582b04ea8d0", "0xb")
    assert crash.process_name == "smss.exe"
    assert crash.culprit_module == "SfUemIsoSpace.sys"
    assert crash.extra["failure_bucket"] == "0xBE_SfUemIsoSpace!unknown_function"
    assert len(crash.stack) == 5


def test_markdown_fences_and_html_entities(tmp_path: Path) -> None:
    text = "Here is the output:\n\n<details><summary>analysis</summary>\n\n```text\n"
    text += html.escape(CLASSIC, quote=True).replace("\n", "\r\n") + "\n```\n</details>\n"
    crash = only_crash(parse_text_file(tmp_path, text))
    assert crash.bugcheck_code == "0x000000be"
    assert crash.culprit_module == "SfUemIsoSpace.sys"
    assert crash.stack[1].symbol == "MiSystemFault"


def test_quoted_reply_prefixes(tmp_path: Path) -> None:
    quoted = "".join(f"> {line}\n" for line in X86.splitlines())
    crash = only_crash(parse_text_file(tmp_path, quoted))
    assert crash.parameters == ("0x4", "0x2", "0x0", "0xf7a1c2d3")


def test_value_cut_mid_hex_at_end_of_file(tmp_path: Path) -> None:
    text = re.sub(r"BugCheck BE, \{[^}]*\}\n", "", CLASSIC)  # the load line would give Arg4 in full
    cut = text[: text.index("Arg4: 000000000000000b") + len("Arg4: 0000000")]
    crash = only_crash(parse_text_file(tmp_path, cut))
    assert crash.parameters == ("0xfffffec500007038", "0x8a00000004000021", "0xfffff582b04ea8d0", None)
    assert "Arg4" in crash.extra["cut_off"]


def test_name_cut_at_end_of_file_is_none(tmp_path: Path) -> None:
    cut = CLASSIC[: CLASSIC.index("IMAGE_NAME:  SfUemIsoSpace.sys") + len("IMAGE_NAME:  SfUem")]
    crash = only_crash(parse_text_file(tmp_path, cut))
    assert crash.extra.get("image_name") is None
    assert crash.culprit_module == "SfUemIsoSpace"  # MODULE_NAME, complete, is still there
    assert "IMAGE_NAME" in crash.extra["cut_off"]


def test_two_analyses_give_two_crashes(tmp_path: Path) -> None:
    result = parse_text_file(tmp_path, CLASSIC + "\n\nAnd the next day:\n\n" + KEY_VALUE)
    assert [c.bugcheck_code for c in result.crashes] == ["0x000000be", "0x0000007e"]
    assert result.crashes[0].culprit_module == "SfUemIsoSpace.sys"
    assert result.crashes[1].culprit_module == "exampledrv.sys"


def test_debugger_verdict_is_not_a_culprit(tmp_path: Path) -> None:
    text = X86.replace("MODULE_NAME: olddrv", "MODULE_NAME: memory_corruption").replace(
        "IMAGE_NAME:  olddrv.sys", "IMAGE_NAME:  memory_corruption"
    )
    crash = only_crash(parse_text_file(tmp_path, text))
    assert crash.culprit_module is None
    assert crash.extra["debugger_verdict"] == "memory_corruption"


def test_utf16_log_file(tmp_path: Path) -> None:
    crash = only_crash(parse_text_file(tmp_path, "\ufeff".encode("utf-16-le") + X86.encode("utf-16-le")))
    assert crash.bugcheck_code == "0x000000d1"


def test_text_without_crash(tmp_path: Path) -> None:
    result = parse_text_file(tmp_path, "The customer says the PC froze twice; no dump was written.\n")
    assert result.crashes == ()
    assert len(result.errors) == 1 and result.errors[0].startswith("no crash found: ")


def test_mentions_of_codes_in_prose_are_not_crashes(tmp_path: Path) -> None:
    result = parse_text_file(
        tmp_path, "Bugcheck 0x1a: MEMORY_MANAGEMENT and 0xc2 BAD_POOL_CALLER were seen.\n"
    )
    assert result.crashes == ()


def test_empty_and_random_bytes(tmp_path: Path) -> None:
    assert parse_text_file(tmp_path, b"", "empty.txt").errors[0].startswith("no crash found")
    result = parse_text_file(tmp_path, os.urandom(64 * 1024), "random.txt")
    assert result.kind == "windbg_text"
    assert isinstance(result.errors, tuple)


def test_oversized_text_is_read_up_to_the_cap_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_textio, "MAX_TEXT_BYTES", len(X86.encode()) - 10)
    result = parse_text_file(tmp_path, X86)
    assert any(e.startswith("text truncated: only the first") for e in result.errors)
    assert only_crash(result).culprit_module == "olddrv"  # IMAGE_NAME at the cut end is dropped


def test_unreadable_path_is_an_error(tmp_path: Path) -> None:
    result = windbg_text.parse(tmp_path / "missing.txt")
    assert result.crashes == () and result.errors[0].startswith("cannot read the file")
    assert result.file == "missing.txt"


def test_seed_case_through_the_engine_blames_no_user_mode_frame(samples) -> None:
    """The reference 0xBE stack ends in smss.exe and ntdll: Windows user-mode code below a system call,
    context and never "the driver"; the fault is inside Windows and no culprit is on the stack."""
    crash = parse_file(samples(SEED_CASE)).crashes[0]
    assert crash.culprit_module is None
    assert crash.culprit_reason == "no third-party module on the stack; culprit not determined"
    assert not any("smss" in f.title or "ntdll" in f.detail for f in parse_file(samples(SEED_CASE)).findings)


LM_LISTING = """\
4: kd> lm t n
start             end                 module name
fffff800`73000000 fffff800`74046000   nt       ntkrnlmp.exe Thu Feb 16 05:09:41 2023 (63EDA6B5)
fffff800`7a200000 fffff800`7a22e000   SfUemIsoSpace SfUemIsoSpace.sys Mon Jun 13 10:21:07 2022 (62A69F33)
fffff800`7b000000 fffff800`7b010000   mydrv    (deferred)

Unloaded modules:
"""


def test_lm_listing_gives_the_loaded_modules(tmp_path: Path) -> None:
    crash = only_crash(parse_text_file(tmp_path, CLASSIC + "\n" + LM_LISTING))
    assert [(m.name, m.base, m.size, m.timestamp) for m in crash.modules] == [
        ("ntkrnlmp.exe", "0xfffff80073000000", 0x1046000, "0x63eda6b5"),
        ("SfUemIsoSpace.sys", "0xfffff8007a200000", 0x2E000, "0x62a69f33"),
        ("mydrv", "0xfffff8007b000000", 0x10000, None),
    ]


def test_lm_listing_with_a_reversed_range_is_skipped(tmp_path: Path) -> None:
    broken = LM_LISTING.replace("fffff800`7b010000", "fffff800`7a000000")
    crash = only_crash(parse_text_file(tmp_path, CLASSIC + "\n" + broken))
    assert [m.name for m in crash.modules] == ["ntkrnlmp.exe", "SfUemIsoSpace.sys"]
