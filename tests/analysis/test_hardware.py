"""Hardware bug checks decoded: 0x124's error source and MCi_STATUS, 0x9F's driver stack, 0x133's kind."""

from __future__ import annotations

from pathlib import Path

from analysis.parsers.result import Crash, Event
from analysis.rules import analyse_file, case_findings
from analysis.rules.enrich import enrich_crash
from analysis.rules.hardware import decode_mci_status, dpc_explanation, whea_explanation
from analysis.rules.per_crash import crash_findings


def test_mci_status_bits_and_compound_error_codes() -> None:
    cache = decode_mci_status(0xBE000000_0100110A)
    assert cache.valid and cache.uncorrected and cache.context_corrupt and cache.address_valid
    assert cache.component == "processor cache error (L2 unified cache)"
    memory = decode_mci_status(0x8C000040_0001009F)
    assert memory.component.startswith("memory controller error") and not memory.uncorrected
    bus = decode_mci_status(0xB2000000_00000E0F)
    assert bus.component.startswith("bus or interconnect error")
    assert decode_mci_status(0xB2000000_00000005).component.startswith("processor internal error")


def test_whea_0x124_names_the_source_and_the_failing_part() -> None:
    text = whea_explanation(("0x0", "0xffffe00012345678", "0xbe000000", "0x0100110a"))
    assert text.startswith("machine check exception") and "L2 unified cache" in text
    assert "PCI Express" in whea_explanation(("0x4", "0xffff1", "0x0", "0x0"))
    crash = enrich_crash(
        Crash(bugcheck_code="0x00000124", parameters=("0x0", "0xffff1", "0xbe000000", "0x0100110a"))
    )
    finding = next(f for f in crash_findings(crash, 0) if f.code == "hardware_error")
    assert "L2 unified cache" in finding.detail and "L2 统一缓存" in (finding.detail_zh or "")
    assert finding.actions == ("hardware_diagnostics",)


def test_whea_logger_event_is_decoded_in_the_case_finding() -> None:
    event = Event(18, "Microsoft-Windows-WHEA-Logger", "2024-01-02T03:04:05Z", "hardware_error",
                  data={"ApicId": 4, "MCABank": 5, "MciStat": "0xbe0000000100110a", "source_file": "System.evtx"})  # fmt: skip
    finding = next(f for f in case_findings([], [event]) if f.code == "hardware_whea")
    assert "MCA bank 5" in finding.detail and "L2 unified cache" in finding.detail
    assert finding.facts[0]["file"] == "System.evtx" and "processor APIC ID 4" in finding.facts[0]["fact"]


def test_dpc_watchdog_kind() -> None:
    assert dpc_explanation(("0x0", "0x501", "0x500", "0x0")) == (
        "a single DPC or interrupt ran 1281 ticks against an allotment of 1280"
    )
    assert "DISPATCH_LEVEL" in dpc_explanation(("0x1", "0x1e00", "0xfffff803648fa320", "0x0"))


POWER_TEXT = """\
DRIVER_POWER_STATE_FAILURE (9f)
A driver has failed to complete a power IRP within a specific time.
Arguments:
Arg1: 0000000000000003, A device object has been blocking an Irp for too long a time
Arg2: ffffc50c8b7a1060, Physical Device Object of the stack
Arg3: fffff8014e4f7850, nt!TRIAGE_9F_POWER on Win7 and higher, otherwise the Functional Device Object of the stack
Arg4: ffffc50c95f7e8a0, The blocked IRP

2: kd> !devstack ffffc50c8b7a1060
  !DevObj           !DrvObj            !DevExt           ObjectName
  ffffc50c8e0f1b70  \\Driver\\ExampleBt   ffffc50c8e0f1cc0
  ffffc50c8b8f7e30  \\Driver\\BTHUSB      ffffc50c8b8f7f80
> ffffc50c8b7a1060  \\Driver\\USBHUB3     ffffc50c8b7a11b0  USBPDO-5
"""


def test_0x9f_names_the_device_driver_stack_and_its_third_party_driver(tmp_path: Path) -> None:
    path = tmp_path / "9f.txt"
    path.write_text(POWER_TEXT, encoding="utf-8")
    result = analyse_file(path)
    crash = result.crashes[0]
    assert crash.extra["device_stack"] == ["ExampleBt", "BTHUSB", "USBHUB3"]
    finding = next(f for f in result.findings if f.code == "power_driver")
    assert "ExampleBt → BTHUSB → USBHUB3" in finding.detail
    assert "ExampleBt.sys" in finding.title  # the stack's third-party driver is the one named
    assert finding.actions == ("power_drivers:ExampleBt.sys",)
