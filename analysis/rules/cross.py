"""Cross-crash rules (analysis-spec B.2): all crashes and events of one case in, patterns out.

Evidence indexes refer to the ``crashes`` sequence the caller passed. Ordering follows B.2: hardware
(WHEA/0x124) and Driver Verifier verdicts first, one dominant third-party driver before the memory
pattern, and both the memory pattern and the third-party software suspicion when both hold.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from analysis.parsers.result import Crash, Event, Finding, Module
from analysis.rules import hardware
from analysis.rules.actions import action
from analysis.rules.common import (
    CLASS_ZH,
    class_zh,
    code_of,
    crash_facts,
    event_fact,
    finding,
    has_dump_facts,
    is_not_a_crash,
    is_third_party,
    klass_of,
    security_drivers,
    source_file,
    source_kind,
    third_party_loaded,
    with_actions,
)
from analysis.tables import drivers, knowledge


def _dedupe(crashes: Sequence[Crash]) -> list[int]:
    """Indexes of distinct kernel crashes: a dump and the event of the same crash count once."""
    seen: dict[tuple[object, ...], int] = {}
    for index, crash in enumerate(crashes):
        code = code_of(crash)
        if code is None or is_not_a_crash(crash):
            continue
        params = tuple(knowledge.parse_code(p) for p in crash.parameters)
        key: tuple[object, ...] = (
            (code, params) if params and None not in params else (code, crash.crash_time)
        )
        if key not in seen or has_dump_facts(crash):
            seen[key] = index
    return sorted(seen.values())


def case_findings(crashes: Sequence[Crash], events: Sequence[Event]) -> tuple[Finding, ...]:
    """Findings about the pattern across all of a case's crashes and events."""
    kernel = _dedupe(crashes)
    out: list[Finding] = []
    out += _hardware(crashes, kernel, events)
    dominant, dominant_names = _same_third_party(crashes, kernel)
    out += dominant
    memory = _memory_pattern(crashes, kernel, events, dominant_found=bool(dominant))
    out += memory
    folded = {
        drivers.canonical(name) for f in memory for a in f.actions for name in a.partition(":")[2].split(",")
    }
    out += _third_party_software(crashes, kernel, dominant_names | folded)
    out += _repeated_signature(crashes, kernel)
    out += _clusters(crashes, kernel)
    out += _missing_dumps(crashes, kernel, events)
    return tuple(with_actions(item, item.actions or _ACTIONS.get(item.code, ())) for item in out)


# Catalogue actions of the case-wide findings whose actions do not depend on a driver name.
_ACTIONS: dict[str, tuple[str, ...]] = {
    "hardware_whea": (action("hardware_diagnostics"),),
    "memory_hardware_fault": (action("replace_memory"), action("run_mdsched")),
    "power_pattern": (action("power_drivers"),),
    "dpc_watchdog_pattern": (action("dpc_drivers"),),
    "storage_pattern": (action("check_disk"),),
    "fix_dump_settings": (action("fix_dump_settings"),),
}


def _hardware(crashes: Sequence[Crash], kernel: list[int], events: Sequence[Event]) -> list[Finding]:
    whea_crashes = [i for i in kernel if code_of(crashes[i]) == 0x124]
    whea_events = [e for e in events if e.kind == "hardware_error"]
    if not whea_crashes and not whea_events:
        return []
    parts = []
    parts_zh = []
    if whea_crashes:
        parts.append(f"{len(whea_crashes)} WHEA_UNCORRECTABLE_ERROR (0x124) crash(es)")
        parts_zh.append(f"{len(whea_crashes)} 次 WHEA_UNCORRECTABLE_ERROR（0x124）蓝屏")
    if whea_events:
        parts.append(f"{len(whea_events)} WHEA-Logger hardware error event(s)")
        parts_zh.append(f"{len(whea_events)} 条 WHEA-Logger 硬件错误事件")
    described = [(e, hardware.whea_event_fact(e.data)) for e in whea_events]
    parts_detail = [text for _e, text in described if text][:3]
    if parts_detail:
        parts.append("; ".join(dict.fromkeys(parts_detail)))
        parts_zh.append(
            "；".join(dict.fromkeys(t for e in whea_events if (t := hardware.whea_event_fact(e.data, "zh"))))
        )
    facts = crash_facts(crashes, whea_crashes) + [
        {**event_fact(e), "fact": f"{event_fact(e)['fact']}: {text}" if text else event_fact(e)["fact"]}
        for e, text in described
    ]
    return [finding(
        "critical" if whea_crashes else "high", "hardware_whea", "high" if whea_crashes else "medium",
        whea_crashes,
        ("Hardware errors reported by the platform",
         "The logs show " + " and ".join(parts) + ". The CPU, memory controller or a PCIe device reported "
         "the error itself; this is not a driver verdict.",
         "Read the WHEA-Logger events for the component (processor core/cache: CPU, thermals, voltage; "
         "memory: DIMM; PCIe: slot or device), update the BIOS and CPU microcode, remove overclocks and "
         "undervolts, and run the vendor's hardware diagnostics."),
        ("平台报告了硬件错误",
         "日志中有" + "和".join(parts_zh) + "。错误由 CPU、内存控制器或 PCIe 设备自身报告，并非驱动问题。",
         "请查看 WHEA-Logger 事件确定部件（处理器核心/缓存：CPU、温度、电压；内存：内存条；PCIe：插槽或设备），"
         "更新 BIOS 与 CPU 微码，取消超频/降压，并运行厂商硬件诊断。"),
        facts=facts,
    )]  # fmt: skip


def _implicated(crash: Crash) -> str | None:
    """The third-party module a crash points at: culprit, else the first third-party stack module."""
    if crash.culprit_module and is_third_party(crash, crash.culprit_module):
        return drivers.base_name(crash.culprit_module)
    return None


def _same_third_party(crashes: Sequence[Crash], kernel: list[int]) -> tuple[list[Finding], set[str]]:
    counts: Counter[str] = Counter()
    where: dict[str, list[int]] = {}
    for i in kernel:
        name = _implicated(crashes[i])
        if name:
            key = drivers.canonical(name)
            counts[key] += 1
            where.setdefault(key, []).append(i)
    out = []
    names: set[str] = set()
    for key, count in counts.most_common(1):
        if count >= 2 and count >= 0.6 * len(kernel):
            names.add(key)
            name = drivers.base_name(crashes[where[key][0]].culprit_module or key)
            out.append(finding(
                "high", "same_third_party_driver", "high" if count >= 3 else "medium", where[key],
                (f"{name} is at fault in {count} of {len(kernel)} crashes",
                 f"The same third-party driver {name} is the culprit in {count} of {len(kernel)} crashes.",
                 f"Update {name} or roll it back; if no fixed version exists, uninstall its product or "
                 "disable its service and watch; send the dumps to its vendor. Driver Verifier on this "
                 f"driver alone (verifier /standard /driver {name}) confirms it."),
                (f"{count}/{len(kernel)} 次蓝屏均由 {name} 导致",
                 f"同一个第三方驱动 {name} 在 {len(kernel)} 次蓝屏中的 {count} 次被判定为责任模块。",
                 f"请更新或回退 {name}；如无修复版本，卸载其所属产品或停用其服务后观察，并将转储发给厂商。"
                 f"可仅对该驱动启用 Driver Verifier（verifier /standard /driver {name}）加以证实。"),
            ))  # fmt: skip
    return out, names


def _memory_pattern(
    crashes: Sequence[Crash], kernel: list[int], events: Sequence[Event], *, dominant_found: bool
) -> list[Finding]:
    """Many different memory-corruption bug checks, no module at fault in most of them: a driver (or the RAM)
    corrupts memory that Windows later trips over. The third-party drivers loaded in every crash that lists
    its drivers are the ones to put under Driver Verifier (the reference case, analysis-spec B.5)."""
    if len(kernel) < 3 or dominant_found:
        return []
    codes = [code_of(crashes[i]) or 0 for i in kernel]
    culprits = {
        drivers.canonical(crashes[i].culprit_module or "") for i in kernel if crashes[i].culprit_module
    }
    memory = [i for i in kernel if knowledge.is_memory_family(code_of(crashes[i]) or 0)]
    if len(set(codes)) < 3 and len(culprits) < 3:
        return []
    if len(memory) * 2 <= len(kernel):
        return []
    names = ", ".join(f"0x{c:X}" for c in sorted(set(codes)))
    processes = sorted({name for i in kernel if (name := crashes[i].process_name)}, key=str.lower)
    diag = [e for e in events if e.kind == "memory_diagnostic"]
    failed = [e for e in diag if _diagnostic_failed(e)]
    facts = crash_facts(crashes, kernel) + [
        {
            "file": str(e.data.get("source_file") or ""),
            "fact": e.message or "Windows Memory Diagnostic result",
        }
        for e in diag
    ]
    if failed:
        return [_hardware_fault(kernel, memory, codes, facts)]
    in_every, in_every_zh, driver_names = _suspect_drivers(crashes, kernel)
    across = (
        f" in {len(processes)} different processes ({', '.join(processes)})" if len(processes) > 1 else ""
    )
    across_zh = f"，涉及 {len(processes)} 个不同进程（{'、'.join(processes)}）" if len(processes) > 1 else ""
    clean = (" A memory diagnostic result in the log reports no errors; one clean pass does not rule out "
             "an intermittent fault.") if diag else ""  # fmt: skip
    clean_zh = "日志中的内存诊断结果未发现错误；但一次通过不能排除间歇性故障。" if diag else ""
    actions = [action("driver_verifier", *driver_names)] if driver_names else []
    actions += [action("run_mdsched"), action("collect_kernel_dump")]
    return [finding(
        "high", "memory_corruption_pattern", "medium", kernel,
        ("Memory corruption: a driver or the RAM, not one faulting module",
         f"{len(kernel)} crashes with {len(set(codes))} different bug check codes ({names}){across}; "
         f"{len(memory)} of them are memory-corruption codes and no single module is at fault in them. "
         "Different codes in different places mean memory was damaged earlier, by a driver writing where "
         "it should not or by faulty RAM, and Windows tripped over it later." + in_every + clean,
         "Put the third-party drivers under Driver Verifier, test the memory, and collect a kernel memory "
         "dump of the next crash."),
        ("内存损坏：由驱动或内存条导致，而非某个模块出错",
         f"共 {len(kernel)} 次蓝屏、{len(set(codes))} 种不同错误代码（{names}）{across_zh}；其中 {len(memory)} 次为内存"
         "损坏类代码，且没有某个单一模块是责任方。代码与位置各不相同，说明内存早已被破坏——由某个驱动越界写入或内存条"
         "故障导致——之后才被 Windows 访问到而蓝屏。" + in_every_zh + clean_zh,
         "请对第三方驱动启用 Driver Verifier、检测内存，并收集下一次蓝屏的核心内存转储。"),
        actions=actions,
        facts=facts,
    )]  # fmt: skip


def _hardware_fault(
    kernel: list[int], memory: list[int], codes: list[int], facts: list[dict[str, str]]
) -> Finding:
    """The memory diagnostic found errors: the many codes are the RAM's doing."""
    names = ", ".join(f"0x{c:X}" for c in sorted(set(codes)))
    return finding(
        "critical", "memory_hardware_fault", "high", memory,
        ("The memory diagnostic found errors: faulty RAM",
         f"{len(kernel)} crashes with {len(set(codes))} different codes ({names}), and the Windows "
         "Memory Diagnostic reported hardware errors.",
         "Replace or reseat the memory: test the modules one by one, remove XMP/overclock, update the BIOS."),
        ("内存诊断发现错误：内存硬件故障",
         f"共 {len(kernel)} 次蓝屏、{len(set(codes))} 种不同代码（{names}），且 Windows 内存诊断报告了硬件错误。",
         "请更换或重新插拔内存：逐条测试内存条，取消 XMP/超频，更新 BIOS。"),
        facts=facts,
    )  # fmt: skip


def _suspect_drivers(crashes: Sequence[Crash], kernel: list[int]) -> tuple[str, str, list[str]]:
    """The third-party drivers to put under Driver Verifier, as a sentence in English and Chinese: those
    loaded in every crash that lists its drivers, else those the case's texts name."""
    common = _loaded_in_every_crash(crashes, kernel)
    listed = [i for i in kernel if crashes[i].modules]
    driver_names = [m.name for m in common]
    named, named_in = ([], []) if common else _named_in_texts(crashes, kernel)
    in_every = (
        f" Third-party drivers loaded in every crash that lists its drivers ({len(listed)} of {len(kernel)}): "
        + ", ".join(f"{m.name} ({klass_of(m) or 'third party'})" for m in common)
        + "."
        if common
        else ""
    )
    in_every_zh = (
        f"每次列出驱动的蓝屏（{len(kernel)} 次中的 {len(listed)} 次）中都加载了的第三方驱动："
        + "、".join(f"{m.name}（{CLASS_ZH.get(klass_of(m) or '', klass_of(m) or '第三方')}）" for m in common)
        + "。"
        if common
        else ""
    )
    if named:
        files = ", ".join(named_in)
        in_every = (f" No crash lists its loaded drivers; the third-party drivers the case's texts name are "
                    f"{', '.join(named)} ({files}).")  # fmt: skip
        in_every_zh = f"没有一次蓝屏列出已加载的驱动；案例文本（{'、'.join(named_in)}）中提到的第三方驱动：{'、'.join(named)}。"
        driver_names = named
    return in_every, in_every_zh, driver_names


def _named_in_texts(crashes: Sequence[Crash], kernel: list[int]) -> tuple[list[str], list[str]]:
    """Third-party drivers a pasted text names (a path in prose, an lm row), and the files naming them."""
    names: dict[str, str] = {}
    files: list[str] = []
    for i in kernel:
        for name in crashes[i].extra.get("drivers_mentioned") or ():
            if drivers.classify_module(str(name))[0] != "third_party" or drivers.diagnostic_info(str(name)):
                continue
            names.setdefault(drivers.canonical(str(name)), str(name))
            if source_file(crashes[i]) and source_file(crashes[i]) not in files:
                files.append(source_file(crashes[i]))
    return sorted(names.values(), key=str.lower)[:8], files


def _loaded_in_every_crash(crashes: Sequence[Crash], kernel: list[int]) -> list[Module]:
    """Third-party drivers loaded in every crash that lists its drivers, security and filter classes first."""
    listed = [i for i in kernel if crashes[i].modules]
    if not listed:
        return []
    counts: Counter[str] = Counter()
    records: dict[str, Module] = {}
    for i in listed:
        for module in dict((drivers.canonical(m.name), m) for m in third_party_loaded(crashes[i])).values():
            key = drivers.canonical(module.name)
            counts[key] += 1
            records.setdefault(key, module)
    common = [records[key] for key, count in counts.items() if count == len(listed)]
    order = {klass: n for n, klass in enumerate(_CLASS_ORDER)}
    common.sort(key=lambda m: (order.get(klass_of(m) or "", len(order)), m.name.lower()))
    # A minidump of a busy machine lists dozens: name the ones that matter, security and filter classes first.
    return common[:8]


def _diagnostic_failed(event: Event) -> bool:
    text = " ".join(str(v) for v in (event.message, *event.data.values()) if v).lower()
    if "no errors" in text or "未检测到错误" in text:
        return False
    return "error" in text or event.data.get("result") in ("failed", "errors")


_CLASS_ORDER = ("dlp/isolation", "antivirus/edr", "vpn/filter", "network-capture")


def _third_party_software(crashes: Sequence[Crash], kernel: list[int], dominant: set[str]) -> list[Finding]:
    with_lists = [i for i in kernel if crashes[i].modules]
    if not with_lists:
        return []
    common: dict[str, list[int]] = {}
    records: dict[str, Module] = {}
    for i in with_lists:
        for module in security_drivers(crashes[i]):
            key = drivers.canonical(module.name)
            common.setdefault(key, []).append(i)
            records.setdefault(key, module)
    # Loaded in every crash that has a driver list; one finding for all of them, most relevant class first.
    keys = [k for k, where in common.items() if len(where) == len(with_lists) and k not in dominant]
    if not keys:
        return []
    keys.sort(key=lambda k: _CLASS_ORDER.index(klass_of(records[k]) or "network-capture"))
    module = records[keys[0]]
    klass = klass_of(module) or "security/filter"
    others = [records[k].name for k in keys[1:]]
    also = f" Other security/filter drivers in all of them: {', '.join(others)}." if others else ""
    also_zh = f"其他同样存在的安全/过滤类驱动：{'、'.join(others)}。" if others else ""
    where = with_lists
    codes = {code_of(crashes[i]) for i in kernel}
    mixed = len(codes) >= 2
    confidence = "medium" if len(where) >= 2 and mixed else "low"
    scope = (f"loaded in all {len(where)} dumps with a driver list" if len(where) > 1
             else "loaded in the only dump with a driver list")  # fmt: skip
    scope_zh = (
        f"在全部 {len(where)} 个含驱动列表的转储中均已加载"
        if len(where) > 1
        else "在唯一含驱动列表的转储中已加载"
    )
    mixed_en = f", with {len(codes)} different codes" if mixed else ""
    mixed_zh = f"，{len(codes)} 种不同代码" if mixed else ""
    return [finding(
        "high" if mixed else "medium", "third_party_software", confidence, where,
        (f"Third-party {klass} driver {module.name} present in the crashes",
         f"{module.name} ({klass}) is not part of Windows and is {scope} ({len(kernel)} crashes in all"
         f"{mixed_en}). Such software hooks file, network or session operations and can corrupt memory "
         "that Windows then trips over; its presence is suspicion, not proof." + also,
         f"Test without it: disable or uninstall the product that installs {module.name} (clean boot) "
         f"and watch for crashes; ask its vendor for a current version. If crashes recur with it "
         f"installed, run Driver Verifier on {module.name} and collect a kernel memory dump."),
        (f"蓝屏中存在第三方{class_zh(klass)}驱动 {module.name}",
         f"{module.name}（{class_zh(klass)}）不是 Windows 自带组件，{scope_zh}（共 {len(kernel)} 次蓝屏{mixed_zh}）。"
         "此类软件会挂钩文件、网络或会话操作，可能破坏随后被 Windows 访问的内存；其存在只是怀疑，并非证据。"
         + also_zh,
         f"请在不加载它的情况下验证：停用或卸载安装 {module.name} 的产品（干净启动）后观察是否仍蓝屏，"
         f"并向厂商索取最新版本。如安装该产品时再次蓝屏，可对 {module.name} 启用 Driver Verifier，"
         "并收集核心内存转储。"),
        actions=[action("test_without_software", module.name, *others), action("driver_verifier", module.name),
                 action("collect_kernel_dump")],
        facts=[{"file": source_file(crashes[i]), "fact": f"{module.name} loaded"} for i in where],
    )]  # fmt: skip


def _repeated_signature(crashes: Sequence[Crash], kernel: list[int]) -> list[Finding]:
    groups: dict[str, list[int]] = {}
    for i in kernel:
        key = crashes[i].signatures.get("module")
        if key and not key.endswith(("| windows-kernel", "| unknown", "| hardware")):
            groups.setdefault(key, []).append(i)
    out = []
    for key, where in groups.items():
        if len(where) >= 2:
            out.append(finding(
                "medium", "repeated_signature", "medium", where,
                (f"The same crash repeats: {key}",
                 f"{len(where)} crashes share the signature {key}: a reproducible bug rather than random "
                 "corruption.",
                 "Look for a known issue or fix for this module and code; send the dumps to the module's "
                 "vendor."),
                (f"同一崩溃重复出现：{key}",
                 f"{len(where)} 次蓝屏具有相同特征 {key}，更像可复现的软件缺陷而非随机内存损坏。",
                 "请查找该模块与代码的已知问题或补丁，并将转储提交给模块厂商。"),
            ))  # fmt: skip
    return out


def _clusters(crashes: Sequence[Crash], kernel: list[int]) -> list[Finding]:
    out = []
    power = [i for i in kernel if code_of(crashes[i]) in (0x9F, 0xA0)]
    if len(power) >= 2:
        out.append(finding(
            "high", "power_pattern", "medium", power,
            ("Repeated power-transition failures",
             f"{len(power)} crashes during sleep, resume or shutdown (0x9F/0xA0).",
             "Update the drivers and firmware of network, Bluetooth, storage and graphics devices and the "
             "BIOS; disable Fast Startup and hybrid sleep as a workaround."),
            ("电源状态切换反复失败",
             f"{len(power)} 次蓝屏发生在睡眠、唤醒或关机过程中（0x9F/0xA0）。",
             "请更新网卡、蓝牙、存储、显卡等设备的驱动与固件及 BIOS；临时可关闭快速启动和混合睡眠。"),
        ))  # fmt: skip
    watchdog = [i for i in kernel if code_of(crashes[i]) == 0x133]
    if len(watchdog) >= 2:
        out.append(finding(
            "high", "dpc_watchdog_pattern", "medium", watchdog,
            ("Repeated DPC watchdog timeouts",
             f"{len(watchdog)} DPC_WATCHDOG_VIOLATION (0x133) crashes: a storage, network or graphics "
             "driver or firmware keeps the CPU too long.",
             "Update the storage controller driver and SSD firmware first, then network and graphics drivers "
             "and the BIOS."),
            ("DPC 看门狗超时反复出现",
             f"{len(watchdog)} 次 DPC_WATCHDOG_VIOLATION（0x133）：存储、网络或显卡驱动/固件长时间占用 CPU。",
             "请先更新存储控制器驱动和 SSD 固件，再更新网卡、显卡驱动与 BIOS。"),
        ))  # fmt: skip
    storage = [i for i in kernel if code_of(crashes[i]) in knowledge.STORAGE_CODES]
    if len(storage) >= 2:
        out.append(finding(
            "high", "storage_pattern", "medium", storage,
            ("Repeated disk or file system failures",
             f"{len(storage)} crashes with storage-related codes.",
             "Back up the data, run chkdsk /f /r and the disk vendor's diagnostics, check cables and "
             "controller, update SSD firmware; replace the disk if SMART reports errors."),
            ("磁盘或文件系统故障反复出现",
             f"{len(storage)} 次蓝屏的代码与存储相关。",
             "请先备份数据，运行 chkdsk /f /r 与磁盘厂商诊断工具，检查数据线和控制器，更新 SSD 固件；"
             "如 SMART 报错请更换磁盘。"),
        ))  # fmt: skip
    return out


def _missing_dumps(crashes: Sequence[Crash], kernel: list[int], events: Sequence[Event]) -> list[Finding]:
    """Only an event log can say a crash happened without a dump: the crashes read from one (not from a
    pasted text, which is no log) that no dump or debugger output in the case accounts for."""
    out = []
    dumps = [i for i in kernel if has_dump_facts(crashes[i])]
    shutdowns = [e for e in events if e.kind == "unexpected_shutdown"]
    settings = [e for e in events if e.kind == "dump_settings"]
    if (shutdowns and not dumps) or settings:
        count = len(shutdowns)
        logs = sorted({str(e.data.get("source_file") or "") for e in shutdowns + settings} - {""})
        where = f"The event log ({', '.join(logs)})" if logs else "The System log"
        where_zh = f"事件日志（{'、'.join(logs)}）" if logs else "系统日志"
        out.append(finding(
            "medium", "fix_dump_settings", "medium", [],
            ("Unexpected shutdowns without crash dumps",
             f"{where} records {count} unexpected shutdown(s)"
             + (" and crash-dump configuration errors" if settings else "")
             + ", and the case holds no dump of them. A shutdown with no bug check code is a power loss or a "
             "hard hang, or a crash whose dump could not be written.",
             "Check the dump settings, the page file, the power supply and temperatures."),
            ("发生意外关机但没有转储文件",
             f"{where_zh}记录了 {count} 次意外关机" + ("以及转储配置错误" if settings else "")
             + "，但案例中没有对应的转储。没有错误代码的关机通常是断电、硬件死锁，或蓝屏后转储未能写出。",
             "请检查转储设置、分页文件、电源与温度。"),
            facts=[event_fact(e) for e in shutdowns + settings],
        ))  # fmt: skip
    # Every bug check a log records; a logged crash that a dump also shows was folded into the dump's.
    logged = [
        i
        for i, c in enumerate(crashes)
        if source_kind(c) == "evtx" and code_of(c) is not None and not is_not_a_crash(c)
    ]
    missing = [i for i in kernel if source_kind(crashes[i]) == "evtx" and not has_dump_facts(crashes[i])]
    if missing:
        logs = sorted({source_file(crashes[i]) for i in logged} - {""})
        log_text = ", ".join(logs) or "the event log"
        dates = sorted({(crashes[i].crash_time or "")[:10] for i in missing} - {""})
        out.append(finding(
            "info", "missing_dumps", "high", missing,
            (f"{len(missing)} logged crash(es) have no dump in the case",
             f"{log_text} records {len(logged)} bug check(s); {len(missing)} of them have no dump or debugger "
             "output in the case, so only their codes and parameters are known.",
             "Upload the dumps of those crashes if they still exist."),
            (f"日志中有 {len(missing)} 次蓝屏在案例中没有转储",
             f"{'、'.join(logs) or '事件日志'} 记录了 {len(logged)} 次蓝屏，其中 {len(missing)} 次在案例中没有转储或调试器输出，"
             "只能得知其错误代码和参数。",
             "如这些蓝屏的转储仍在，请上传。"),
            actions=[action("upload_dumps", *dates)],
            facts=crash_facts(crashes, missing),
        ))  # fmt: skip
    return out
