"""WinDbg !analyze -v text: the public pastes against their sidecars, and the seed case."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from analysis.parsers import windbg_text
from analysis.parsers.result import Crash
from analysis.rules import analyse_file
from tests.analysis.text_samples import annotated, excerpt_body, first_token, require, same_number, sidecar
from tests.analysis.windbg_texts import only_crash
from tests.samples import SEED_CASE, sample_params


@pytest.mark.parametrize("path", sample_params("windbg_text", "*.txt"))
def test_sample_matches_its_sidecar(path: Path | None) -> None:
    path = require(path)
    truth = sidecar(path)["ground_truth"]
    body = excerpt_body(path)
    result = windbg_text.parse(path)
    crash = only_crash(result)
    assert result.errors == ()
    _assert_code_and_arguments(crash, truth, body)
    _assert_extra_fields(crash, truth)
    _assert_culprit_and_module(crash, truth, body)
    if crash.os_build is not None:
        assert str(first_token(truth.get("os_build"))).split(".")[
            -2 if "10.0." in str(truth.get("os_build")) else 0
        ] == (crash.os_build)


def _assert_code_and_arguments(crash: Crash, truth: dict[str, Any], body: str) -> None:
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


def _assert_extra_fields(crash: Crash, truth: dict[str, Any]) -> None:
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


def _assert_culprit_and_module(crash: Crash, truth: dict[str, Any], body: str) -> None:
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


def test_seed_case_through_the_engine_blames_no_user_mode_frame(samples) -> None:
    """The reference 0xBE stack ends in smss.exe and ntdll: Windows user-mode code below a system call,
    context and never "the driver"; the fault is inside Windows and no culprit is on the stack."""
    crash = analyse_file(samples(SEED_CASE)).crashes[0]
    assert crash.culprit_module is None
    assert crash.culprit_reason == "no third-party module on the stack; culprit not determined"
    assert not any(
        "smss" in f.title or "ntdll" in f.detail for f in analyse_file(samples(SEED_CASE)).findings
    )
