"""Knowledge tables: Windows inbox drivers, diagnostic and test drivers, a crash triggered on purpose."""

from __future__ import annotations

from analysis.parsers.result import Crash, Frame, Module
from analysis.rules.enrich import enrich_crash
from analysis.rules.per_crash import crash_findings
from analysis.tables import drivers
from analysis.tables.knowledge import parameter_meanings


def test_charge_arbitration_driver_ships_with_windows() -> None:
    assert drivers.classify_module("CAD.sys")[0] == "microsoft"
    assert drivers.classify_module("\\SystemRoot\\System32\\drivers\\CAD.sys")[0] == "microsoft"


def test_sysinternals_drivers_are_diagnostic_tools_not_third_party() -> None:
    for name in ("myfault.sys", "PROCMON24.SYS", "PROCEXP152.SYS"):
        origin, reason = drivers.classify_module(name)
        assert origin == "microsoft" and "diagnostic or test tool" in reason
        info = drivers.vendor_info(name)
        assert info is not None and info.vendor_class == drivers.DIAGNOSTIC_CLASS
    assert drivers.is_deliberate_crash_driver("myfault") and drivers.is_deliberate_crash_driver("MyFault.sys")
    assert not drivers.is_deliberate_crash_driver("PROCMON24.SYS")


def test_notmyfault_crash_says_it_was_triggered_on_purpose() -> None:
    crash = enrich_crash(
        Crash(
            bugcheck_code="0x000000d1",
            parameters=("0xffff9c8a4d5e6000", "0x2", "0x0", "0xfffff8051a2b1385"),
            stack=(
                Frame(module="nt", symbol="KeBugCheckEx", offset="0x0"),
                Frame(module="nt", symbol="KiPageFault", offset="0x358"),
                Frame(module="myfault", symbol=None, offset="0x1385"),
            ),
            modules=(Module(name="myfault.sys", timestamp="0x5f1a2b3c"),),
        )
    )
    assert crash.culprit_module == "myfault"
    findings = crash_findings(crash, 0)
    assert [f.code for f in findings] == ["deliberate_crash"]
    assert "NotMyFault" in findings[0].title and findings[0].title_zh
    assert not any(f.code.startswith("third_party") for f in findings)


def test_parameter_meanings_in_both_languages() -> None:
    english = parameter_meanings("0x000000be", ("0x1", "0x2", "0x3", "0xb"))
    chinese = parameter_meanings("0x000000be", ("0x1", "0x2", "0x3", "0xb"), "zh")
    assert english[0].lower().startswith("virtual address") and "PTE" in english[1]
    assert all(chinese) and chinese != english
    # _M variants mean what their base code means.
    assert parameter_meanings("0x1000007e", ("0xc0000005", "0x1", "0x2", "0x3"))[0].startswith(
        "The exception code"
    )


def test_subtype_codes_take_the_row_of_their_first_parameter() -> None:
    meanings = parameter_meanings("0x9f", ("0x3", "0xffff1", "0xffff2", "0xffff3"))
    assert meanings[0].startswith("subtype 0x3") and "IRP" in meanings[3]
    watchdog = parameter_meanings("0x133", ("0x0", "0x501", "0x500", "0x0"), "zh")
    assert watchdog[0].startswith("子类型 0x0")


def test_undocumented_parameters_say_so() -> None:
    assert parameter_meanings("0x1c8", ("0x1b58", "0x0", "0x0", "0x0"))[0] == "not documented for this code"
