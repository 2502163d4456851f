"""Knowledge, classification, signatures and rules; the reference case replayed (analysis-spec B.5)."""

from __future__ import annotations

from analysis.parsers.result import Crash, Event, Frame, Module, ParseResult
from analysis.rules import case_findings, file_findings
from analysis.rules.enrich import enrich_crash
from analysis.rules.signatures import compute
from analysis.tables.drivers import classify_module, timestamp_is_hash
from analysis.tables.knowledge import bugcheck_info, known_codes

ISO = Module(name="SfUemIsoSpace.sys", base="0xfffff80090000000", size=0x20000, timestamp="0x5f67d60e")
NT = Module(name="ntoskrnl.exe", base="0xfffff80073200000", size=0x1046000, timestamp="0x0d8333e6")


def _crash(code: str, params: tuple[str, ...] = ("0x1", "0x2", "0x3", "0x4"), **kw: object) -> Crash:
    return enrich_crash(Crash(bugcheck_code=code, parameters=params, **kw))  # type: ignore[arg-type]


def test_bugcheck_table_and_m_variants() -> None:
    assert known_codes() >= 550
    assert bugcheck_info("0xbe").name == "ATTEMPTED_WRITE_TO_READONLY_MEMORY"  # type: ignore[union-attr]
    info = bugcheck_info("0x1000007e")
    assert info is not None and info.name == "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M" and info.is_m_variant
    assert bugcheck_info(0x1000000A) is None or bugcheck_info(0x1000000A).name.endswith("_M")  # type: ignore[union-attr]
    assert bugcheck_info("0x12345678") is None
    assert bugcheck_info("not hex") is None
    assert "memory" in bugcheck_info("0x1a").categories  # type: ignore[union-attr]


def test_module_classification_has_a_basis() -> None:
    assert classify_module("ntoskrnl.exe")[0] == "microsoft"
    assert classify_module("NETIO")[0] == "microsoft"
    origin, reason = classify_module("SfUemIsoSpace.sys", "0x5f67d60e")
    assert origin == "third_party" and "dlp/isolation" in reason
    origin, reason = classify_module("unknownvendor.sys", 0x5F67D60E)
    assert origin == "third_party" and "2020-09-20" in reason
    origin, reason = classify_module("mysterious.sys", 0x0D8333E6)
    assert origin == "microsoft" and "hash" in reason
    assert timestamp_is_hash(0x0D8333E6) and not timestamp_is_hash(0x5F67D60E)


def test_signatures_are_versioned_and_fold_m_variants() -> None:
    sig = compute(_crash("0x1000007e", culprit_module="amdppm.sys"))
    assert sig == {"coarse": "0x7E", "module": "0x7E | amdppm", "version": "1"}
    sig = compute(_crash("0x0000001a", ("0x41792", "0x1", "0x2", "0x3")))
    assert sig["coarse"] == "0x1A/41792"
    stack = (
        Frame("nt", "KeBugCheckEx"),
        Frame("nt", "KiPageFault"),
        Frame("nt", "memcpy"),
        Frame("acme", "Copy"),
    )
    sig = compute(enrich_crash(Crash(bugcheck_code="0x50", stack=stack, parameters=("0x0",) * 4)))
    assert sig["frames"] == "0x50 | nt!memcpy | acme!copy"
    assert (
        compute(Crash(exception_code="0xc0000005", culprit_module="app.exe"))["module"] == "0xC0000005 | app"
    )


def test_nt_is_never_the_culprit() -> None:
    crash = _crash("0xd1", culprit_module="nt", culprit_reason="MODULE_NAME: nt")
    assert crash.culprit_module is None
    assert crash.culprit_reason == "fault inside Windows (nt); culprit not on the stack"


def test_reference_case_replayed() -> None:
    """0xBE, 0x1A, 0xC2, 0x7E of one machine with SfUemIsoSpace.sys loaded (analysis-spec B.5)."""
    dump = _crash(
        "0x000000be", ("0xfffffec500007038", "0x8a00000004000021", "0xfffff582b04ea8d0", "0xb"),
        modules=(NT, ISO), process_name="smss.exe", culprit_reason="fault inside Windows (ntoskrnl.exe+0x400); "
        "culprit not on the stack", extra={"dump_type": 4},
    )  # fmt: skip
    crashes = [
        dump,
        _crash("0x0000001a", ("0x41792", "0xffff", "0x0", "0x0")),
        _crash("0x000000c2", ("0x7", "0x1097", "0x0", "0xffffa20912345000")),
        _crash("0x0000007e", ("0xc0000005", "0xfffff80073412345", "0x1", "0x2")),
    ]
    findings = case_findings(crashes, [])
    # One conclusion: memory corrupted by a driver or the RAM, with the third-party driver of every dump.
    assert [f.code for f in findings] == ["memory_corruption_pattern"]
    memory = findings[0]
    assert memory.evidence == (0, 1, 2, 3)
    assert "SfUemIsoSpace.sys" in memory.detail and "SfUemIsoSpace.sys" in (memory.detail_zh or "")
    assert memory.actions == ("driver_verifier:SfUemIsoSpace.sys", "run_mdsched", "collect_kernel_dump")
    assert "verifier /standard /driver SfUemIsoSpace.sys" in memory.recommendation
    assert "mdsched" in memory.recommendation and "MemoryDiagnostics-Results" in memory.recommendation
    assert "mdsched" in (memory.recommendation_zh or "")
    assert "MEMORY.DMP" in memory.recommendation and "Time Travel Debugging" in memory.recommendation
    for finding in findings:
        assert finding.title_zh and finding.detail_zh and finding.recommendation_zh


def test_same_third_party_driver_dominates_memory_pattern() -> None:
    acme = Module(name="acmefilter.sys", base="0x1000", size=0x1000, timestamp="0x5f67d60e")
    crashes = [
        _crash(
            code, culprit_module="acmefilter.sys", modules=(acme,), extra={"culprit_basis": "fault_address"}
        )
        for code in ("0x50", "0xd1", "0x1e")
    ]
    codes = [f.code for f in case_findings(crashes, [])]
    assert "same_third_party_driver" in codes
    assert "memory_corruption_pattern" not in codes
    per_crash = [
        f.code for f in file_findings(ParseResult(file="a", kind="kernel_dump", crashes=(crashes[0],)))
    ]
    assert per_crash[0] == "third_party_driver"


def test_hardware_verifier_storage_power_rules() -> None:
    codes = [f.code for f in case_findings([_crash("0x124", ("0x0", "0x1", "0x2", "0x3"))], [])]
    assert "hardware_whea" in codes
    whea = Event(event_id=18, provider="Microsoft-Windows-WHEA-Logger", time=None, kind="hardware_error")
    assert "hardware_whea" in [f.code for f in case_findings([], [whea])]

    def one(code: str, params: tuple[str, ...] = ("0x3", "0x1", "0x2", "0x3")) -> list[str]:
        crash = _crash(code, params)
        return [f.code for f in file_findings(ParseResult(file="a", kind="windbg_text", crashes=(crash,)))]

    assert "driver_verifier" in one("0xc4")
    assert "storage_error" in one("0x7a", ("0x1", "0xc000009c", "0x2", "0x3"))
    assert "power_driver" in one("0x9f")
    assert "dpc_watchdog" in one("0x133")
    assert "hardware_error" in one("0x124")
    assert one("0x1c8") == ["manual_crash"]
    assert one("0x141") == ["live_dump"]


def test_unexpected_shutdowns_without_dumps_ask_for_dump_settings() -> None:
    events = [
        Event(event_id=41, provider="Microsoft-Windows-Kernel-Power", time=None, kind="unexpected_shutdown")
    ]
    finding = next(f for f in case_findings([], events) if f.code == "fix_dump_settings")
    assert "Automatic memory dump" in finding.recommendation


def test_memory_diagnostic_failure_is_critical() -> None:
    crashes = [_crash(c) for c in ("0x1a", "0x50", "0xc2")]
    bad = Event(1201, "Microsoft-Windows-MemoryDiagnostics-Results", None, "memory_diagnostic",
                message="The Windows Memory Diagnostic tested the computer's memory and detected hardware errors")  # fmt: skip
    found = {f.code: f for f in case_findings(crashes, [bad])}
    assert found["memory_hardware_fault"].severity == "critical"


def test_error_and_unsupported_files_get_findings() -> None:
    broken = ParseResult(file="x.dmp", kind="kernel_dump", errors=("file truncated",))
    assert [f.code for f in file_findings(broken)] == ["parse_error"]
    unknown = ParseResult(file="x.bin", kind="unknown", errors=("not recognised",))
    assert [f.code for f in file_findings(unknown)] == ["unsupported_type"]
    archive = ParseResult(file="x.zip", kind="archive")
    assert [f.code for f in file_findings(archive)] == ["unsupported_type"]


def test_user_mode_crash_recommends_ttd() -> None:
    crash = Crash(exception_code="0xc0000005", exception_name="STATUS_ACCESS_VIOLATION",
                  exception_address="0x1", process_name="agent.exe", culprit_module="agent.exe")  # fmt: skip
    (finding,) = file_findings(ParseResult(file="a.dmp", kind="user_dump", crashes=(crash,)))
    assert finding.code == "user_mode_crash" and "Time Travel Debugging" in finding.recommendation
