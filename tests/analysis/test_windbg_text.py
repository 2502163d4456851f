"""WinDbg !analyze -v text: the project's own texts (classic, key-value, user mode, x86, pasted forms)."""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import pytest

from analysis.parsers import _textio, windbg_text
from tests.analysis.windbg_texts import CLASSIC, KEY_VALUE, USER_MODE, X86, only_crash, parse_text_file


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
