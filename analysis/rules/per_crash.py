"""Per-crash rules (analysis-spec B.1): one crash in, findings about that crash out."""

from __future__ import annotations

from dataclasses import replace

from analysis.parsers.result import Crash, Finding, Severity
from analysis.rules import hardware
from analysis.rules.actions import action
from analysis.rules.common import CLASS_ZH as CLASS_ZH
from analysis.rules.common import (
    code_of,
    finding,
    is_third_party,
    klass_of,
    label,
    reason_zh,
    security_drivers,
    vendor_text,
    with_actions,
)
from analysis.tables import drivers, knowledge
from analysis.tables.texts import bilingual

# Microsoft subsystems each class of third-party software hooks (analysis-spec B.1 D5 proximity).
HOOKED_SUBSYSTEMS: dict[str, tuple[str, ...]] = {
    "dlp/isolation": ("win32k", "win32kbase", "win32kfull", "fltmgr", "ntfs", "cldflt", "smss.exe"),
    "antivirus/edr": ("fltmgr", "ntfs", "netio", "tcpip", "fwpkclnt", "ci"),
    "vpn/filter": ("netio", "tcpip", "ndis", "fwpkclnt", "wfplwfs"),
    "network-capture": ("ndis", "netio", "tcpip"),
}
CRITICAL_PROCESSES = frozenset({"smss.exe", "csrss.exe", "wininit.exe", "services.exe", "lsass.exe",
                                "winlogon.exe"})  # fmt: skip
# 0x1A subtypes the docs tie to hardware-like corruption (analysis-spec B.1 D6).
MEMORY_SUBTYPES_1A = frozenset({0x31, 0x3F, 0x403, 0x41790, 0x41792, 0x61941})
STORAGE_STATUS = {
    0xC000009C: ("bad blocks on the disk (STATUS_DEVICE_DATA_ERROR)", "磁盘存在坏块"),
    0xC000016A: ("bad blocks on the disk (STATUS_DISK_OPERATION_FAILED)", "磁盘存在坏块"),
    0xC000009D: ("the device is not ready: cabling, controller or power (STATUS_DEVICE_NOT_CONNECTED)",
                 "设备未就绪：请检查数据线、控制器或供电"),
    0xC0000185: ("I/O device error (STATUS_IO_DEVICE_ERROR)", "I/O 设备错误"),
}  # fmt: skip

COLLECT_KERNEL_DUMP_EN = (
    "Set Startup and Recovery to write an Automatic or Kernel memory dump (page file on the system drive "
    "at least as large as the kernel memory, enough free disk space), so the next crash keeps all threads "
    "and pool; on virtual machines also disable automatic restart."
)
COLLECT_KERNEL_DUMP_ZH = (
    "在“启动和故障恢复”中改为写入“自动内存转储”或“核心内存转储”（系统盘分页文件足够大、磁盘空间充足），"
    "以便下次蓝屏保留全部线程和内存池信息；虚拟机上同时关闭自动重启。"
)


def _ip(value: str | None) -> int | None:
    return knowledge.parse_code(value[-8:] if value and len(value) > 10 else value)


def crash_findings(crash: Crash, index: int) -> list[Finding]:
    """Findings for one crash; ``index`` is the crash's position in the list the caller holds."""
    if crash.bugcheck_code is not None:
        found = _kernel(crash, index)
    elif crash.exception_code is not None or crash.process_name and crash.modules:
        found = _user_mode(crash, index)
    elif crash.title:
        found = _linux(crash, index)
    else:
        found = []
    return [with_actions(item, item.actions or _actions(item, crash)) for item in found]


def suspects(crash: Crash) -> list[str]:
    """Third-party modules the debugger had no symbols for ("Unable to verify timestamp for X.sys"): when
    no culprit is named, the likely owners of a blocked request or a long DPC (weak evidence)."""
    found = list(crash.extra.get("unverified_timestamp_modules") or [])
    # A 0x9F text's device stack (\\Driver\\X) names the drivers that held the IRP.
    found += [f"{name}.sys" for name in _stack_drivers(crash) if "." not in name]
    names = [
        str(name)
        for name in found
        if is_third_party(crash, str(name)) and not drivers.diagnostic_info(str(name))
    ]
    return list(dict.fromkeys(names))[:3]


def _actions(item: Finding, crash: Crash) -> tuple[str, ...]:
    """The catalogue actions behind each per-crash finding's recommendation (analysis/rules/actions.py)."""
    culprit = drivers.base_name(crash.culprit_module) if crash.culprit_module else ""
    if item.code == "driver_verifier" and culprit and is_third_party(crash, culprit):
        return (action("update_driver", culprit), action("verifier_off"))
    if not culprit and item.code in ("power_driver", "dpc_watchdog", "driver_verifier"):
        culprit = ",".join(suspects(crash))
    on_stack = [f.module for f in crash.stack if f.module and is_third_party(crash, f.module)]
    named = {
        "third_party_driver": [action("update_driver", culprit), action("driver_verifier", culprit)],
        "third_party_on_stack": [action("driver_verifier", *dict.fromkeys(on_stack))],
        "third_party_present": [action("test_without_software", *(m.name for m in security_drivers(crash)))],
        "hardware_error": [action("hardware_diagnostics")],
        "memory_corruption_evidence": [action("run_mdsched")],
        "storage_error": [action("check_disk")],
        "power_driver": [action("power_drivers", *culprit.split(","))],
        "dpc_watchdog": [action("dpc_drivers", *culprit.split(","))],
        "driver_verifier": [action("update_driver", *culprit.split(",")), action("verifier_off")],
        "graphics_driver": [action("graphics_driver")],
        "critical_process": [action("system_files")],
        "deliberate_crash": [action("ask_who_ran_tool", "Sysinternals NotMyFault")],
        "collect_kernel_dump": [action("collect_kernel_dump")],
        "user_mode_crash": [action("app_update", crash.process_name or "", crash.culprit_module or "")],
    }
    return tuple(named.get(item.code, ()))


def _kernel(crash: Crash, i: int) -> list[Finding]:
    code = code_of(crash)
    if code is None:
        return []
    what = label(crash)
    cats = knowledge.categories(code)
    if code in knowledge.MANUAL_CODES or "manual" in cats[:1]:
        return [_manual(what, i)]
    if "livedump" in cats[:1]:
        return [_livedump(what, i)]
    deliberate = _deliberate(crash, what, i)
    if deliberate is not None:
        return [deliberate]
    out: list[Finding] = []
    if knowledge.bugcheck_info(code) is None:
        out.append(_unknown_code(what, i))
    out.extend(
        _one_conclusion(crash, _culprit_findings(crash, what, i), _category_findings(crash, code, what, i))
    )
    dump_type = crash.extra.get("dump_type")
    if dump_type == 4 and not is_third_party(crash, crash.culprit_module):
        out.append(
            finding(
                "info", "collect_kernel_dump", "medium", [i],
                ("A minidump cannot show who corrupted memory",
                 f"{what}: this is a triage minidump (one thread, no pool); the culprit is not proven by it.",
                 COLLECT_KERNEL_DUMP_EN + " If it recurs, upload that MEMORY.DMP."),
                ("小型转储无法追溯内存被谁破坏",
                 f"{what}：这是小型转储（仅一个线程、无内存池信息），无法据此确定责任模块。",
                 COLLECT_KERNEL_DUMP_ZH + "如再次蓝屏，请上传该 MEMORY.DMP。"),
            )
        )  # fmt: skip
    return out


# Category findings that a named culprit explains: one conclusion, "X at fault: <what the code means>".
_EXPLAINED_BY_CULPRIT = frozenset({"power_driver", "dpc_watchdog", "graphics_driver", "storage_error"})
_NAMEABLE = _EXPLAINED_BY_CULPRIT | {"driver_verifier"}


def _one_conclusion(crash: Crash, culprit: list[Finding], category: list[Finding]) -> list[Finding]:
    """One crash, one conclusion: a third-party driver at fault absorbs what its bug check code means, and a
    category finding of a crash whose culprit is named (even a Windows driver) names it in its title."""
    at_fault = next((f for f in culprit if f.code == "third_party_driver"), None)
    name = crash.culprit_module or ", ".join(suspects(crash))
    out = list(culprit)
    for item in category:
        if at_fault is not None and item.code in _EXPLAINED_BY_CULPRIT:
            index = out.index(at_fault)
            # The category's own text starts with the crash label the culprit's text already gives.
            detail = item.detail.split(": ", 1)[-1]
            detail_zh = (item.detail_zh or "").split("：", 1)[-1]
            at_fault = replace(
                at_fault,
                title=f"{at_fault.title}: {item.title[0].lower()}{item.title[1:]}",
                detail=f"{at_fault.detail} {detail[0].upper()}{detail[1:]}",
                title_zh=f"{at_fault.title_zh}：{item.title_zh}",
                detail_zh=f"{at_fault.detail_zh}{detail_zh}",
            )
            out[index] = at_fault
            continue
        if at_fault is not None and item.code == "driver_verifier":
            # Verifier's verdict is the stronger evidence: it carries the conclusion, naming the driver.
            out.remove(at_fault)
            at_fault = None
        if name and item.code in _NAMEABLE:
            item = replace(item, title=f"{item.title}: {name}", title_zh=f"{item.title_zh}：{name}")
        elif item.code == "driver_verifier":
            # Without the driver's name the verdict stands, but the message cannot say whom it is about.
            item = replace(item, confidence="medium")
        out.append(item)
    return out


def _culprit_findings(crash: Crash, what: str, i: int) -> list[Finding]:
    culprit = crash.culprit_module
    reason = crash.culprit_reason or ""
    if culprit and is_third_party(crash, culprit):
        basis = crash.extra.get("culprit_basis")
        confidence = {"fault_address": "high", "broken_driver": "high", "stack_scan": "low"}.get(
            str(basis), "low" if "stack" in reason else "medium"
        )
        who = vendor_text(crash, culprit)
        who_text = f" ({who})" if who else ""
        return [
            finding(
                "high", "third_party_driver", confidence, [i],
                (f"Third-party driver {culprit} at fault",
                 f"{what}: {reason}. {culprit}{who_text} is not part of Windows.",
                 f"Update {culprit} to its vendor's current version (or roll back a recent update of it); if "
                 f"crashes continue, uninstall the product as a test. To prove it, enable Driver Verifier on "
                 f"this driver only (verifier /standard /driver {culprit}), collect the next dump, then turn "
                 "Verifier off (verifier /reset)."),
                (f"第三方驱动 {culprit} 导致故障",
                 f"{what}：{reason_zh(reason)}。{culprit}{who_text} 不是 Windows 自带组件。",
                 f"请将 {culprit} 更新到厂商最新版本（或回退最近的更新）；如仍蓝屏，可临时卸载该产品验证。"
                 f"如需证实，仅对该驱动启用 Driver Verifier（verifier /standard /driver {culprit}），"
                 "收集下一次转储后关闭 Verifier（verifier /reset）。"),
            )
        ]  # fmt: skip
    out: list[Finding] = []
    on_stack = []
    for frame in crash.stack:
        if frame.module and frame.module not in on_stack and is_third_party(crash, frame.module):
            on_stack.append(frame.module)
    if on_stack:
        names = ", ".join(on_stack[:5])
        out.append(
            finding(
                "medium", "third_party_on_stack", "low", [i],
                (f"Third-party module on the crash stack: {names}",
                 f"{what}: {names} appear on the stack of the crashing thread. A module on the stack is "
                 "context, not proof: it may only have been called or have left an address behind.",
                 "Check whether the crashes stop when this software is updated or removed; run Driver "
                 "Verifier on it if the crashes continue."),
                (f"崩溃线程栈上有第三方模块：{names}",
                 f"{what}：崩溃线程的栈上出现 {names}。栈上出现仅是线索而非证据，"
                 "它可能只是被调用过或残留了地址。",
                 "请验证更新或卸载该软件后是否仍蓝屏；如仍蓝屏，可对其启用 Driver Verifier。"),
            )
        )  # fmt: skip
    out.extend(_security_presence(crash, what, i))
    return out


def _security_presence(crash: Crash, what: str, i: int) -> list[Finding]:
    loaded = security_drivers(crash)
    if not loaded:
        return []
    touched = {drivers.canonical(f.module) for f in crash.stack if f.module}
    touched |= {(crash.process_name or "").lower()}
    if crash.culprit_reason:
        touched |= {drivers.canonical(word) for word in crash.culprit_reason.replace("+", " ").split()}
    near = [m for m in loaded if set(HOOKED_SUBSYSTEMS.get(klass_of(m) or "", ())) & touched]
    names = ", ".join(f"{m.name} ({klass_of(m)})" for m in loaded[:6])
    names_zh = "、".join(f"{m.name}（{CLASS_ZH.get(klass_of(m) or '', klass_of(m))}）" for m in loaded[:6])
    if near:
        detail = (f"{what}: the fault is inside Windows in a subsystem that {near[0].name} hooks "
                  f"({klass_of(near[0])}); loaded security/filter drivers: {names}.")  # fmt: skip
        detail_zh = (f"{what}：故障发生在 Windows 内部、且位于 {near[0].name} 所挂钩的子系统；"
                     f"已加载的安全/过滤类驱动：{names_zh}。")  # fmt: skip
    else:
        detail = f"{what}: security/filter drivers loaded at the time of the crash: {names}."
        detail_zh = f"{what}：蓝屏时已加载的安全/过滤类驱动：{names_zh}。"
    return [
        finding(
            "medium" if near else "low", "third_party_present", "medium" if near else "low", [i],
            ("Security or filter software loaded", detail,
             "Such drivers hook file, network or session operations and can corrupt memory that Windows "
             "later trips over. Test with the product disabled or uninstalled (clean boot), and ask its "
             "vendor for a current version."),
            ("已加载安全/过滤类软件", detail_zh,
             "此类驱动会挂钩文件、网络或会话操作，可能破坏随后被 Windows 访问的内存。"
             "请在停用或卸载该产品（干净启动）的情况下验证，并向厂商索取最新版本。"),
        )
    ]  # fmt: skip


def _category_findings(crash: Crash, code: int, what: str, i: int) -> list[Finding]:
    """What the bug check's category says (hardware, storage, power, watchdog, Driver Verifier, graphics,
    critical process); the texts are in analysis/tables/data/crash_categories.json."""
    params = crash.parameters
    out: list[Finding] = []
    if code in knowledge.HARDWARE_CODES:
        whea = (
            (hardware.whea_explanation(params), hardware.whea_explanation(params, "zh"))
            if code == 0x124
            else ("", "")
        )
        out.append(_category("hardware_error", "high", "high", i, what=what, extra=_sentences(*whea)))
    if code == 0x1A and params and _ip(params[0]) in MEMORY_SUBTYPES_1A:
        flip = _one_bit_apart(params[2] if len(params) > 2 else None, params[3] if len(params) > 3 else None)
        extra = _table_text("memory_corruption_evidence", "one_bit") if flip else ("", "")
        out.append(_category("memory_corruption_evidence", "medium", "medium" if flip else "low", i,
                             what=what, subtype=str(params[0]), extra=extra))  # fmt: skip
    if code in knowledge.STORAGE_CODES:
        status = _ip(params[1]) if code in (0x7A, 0x77) and len(params) > 1 else None
        known = STORAGE_STATUS.get(status or -1)
        extra = (
            _table_text("storage_error", "status", status=str(params[1]), meaning=known)
            if known
            else ("", "")
        )
        out.append(_category("storage_error", "high", "medium", i, what=what, extra=extra))
    if code in (0x9F, 0xA0):
        stack = _stack_drivers(crash)
        power = (hardware.power_explanation(params, stack), hardware.power_explanation(params, stack, "zh"))
        explained = _sentences(*power)
        extra = (explained[0] + _suspect_text(crash), explained[1] + _suspect_text(crash, zh=True))
        out.append(_category("power_driver", "medium", "medium", i, what=what, extra=extra))
    if code == 0x133:
        dpc = _sentences(hardware.dpc_explanation(params), hardware.dpc_explanation(params, "zh"))
        out.append(_category("dpc_watchdog", "medium", "medium", i, what=what, extra=dpc))
    if code in knowledge.VERIFIER_CODES:
        named = _named("driver_verifier", crash.culprit_module)
        out.append(_category("driver_verifier", "high", "high", i, what=what, named=named))
    if code in knowledge.GRAPHICS_CODES:
        out.append(_category("graphics_driver", "medium", "medium", i, what=what))
    if code in knowledge.CRITICAL_PROCESS_CODES or (
        crash.process_name and crash.process_name.lower() in CRITICAL_PROCESSES and code in (0xEF, 0xF4)
    ):
        named = _named("critical_process", crash.process_name)
        out.append(_category("critical_process", "high", "medium", i, what=what, named=named))
    return out


def _category(
    code: str, severity: Severity, confidence: str, i: int, **values: str | tuple[str, str]
) -> Finding:
    """A category finding from its table entry, ``values`` filling the entry's placeholders."""
    title, detail, advice = (
        _table_text(code, field, **values) for field in ("title", "detail", "recommendation")
    )
    return finding(
        severity, code, confidence, [i], (title[0], detail[0], advice[0]), (title[1], detail[1], advice[1])
    )


def _table_text(code: str, field: str, **values: str | tuple[str, str]) -> tuple[str, str]:
    return bilingual("crash_categories", code, field, **values)


def _named(code: str, name: str | None) -> tuple[str, str]:
    return _table_text(code, "named", name=name) if name else _table_text(code, "unnamed")


def _sentences(english: str, chinese: str) -> tuple[str, str]:
    return _sentence(english), _sentence(chinese, zh=True)


def _sentence(text: str, *, zh: bool = False) -> str:
    if not text:
        return ""
    return f"{text[0].upper()}{text[1:]}。" if zh else f" {text[0].upper()}{text[1:]}."


def _stack_drivers(crash: Crash) -> list[str]:
    """The device's driver stack a 0x9F text shows (\\Driver\\X names of !devstack / !irp output)."""
    return [str(name) for name in crash.extra.get("device_stack") or []][:8]


def _suspect_text(crash: Crash, *, zh: bool = False) -> str:
    names = suspects(crash) if not crash.culprit_module else [crash.culprit_module]
    if not names:
        return ""
    joined = ("、" if zh else ", ").join(names)
    if crash.culprit_module:
        return f"驱动 {joined} 被指为责任方。" if zh else f" The driver named is {joined}."
    if zh:
        return (
            f"调试器无法验证第三方驱动 {joined} 的时间戳（无符号），它很可能是被阻塞请求的所有者（弱证据）。"
        )
    return (f" The debugger found no symbols for the third-party driver {joined}: the likely owner of the "
            "blocked request (weak evidence).")  # fmt: skip


def _one_bit_apart(a: str | None, b: str | None) -> bool:
    x, y = knowledge.parse_code(_low(a)), knowledge.parse_code(_low(b))
    return x is not None and y is not None and x != y and bin(x ^ y).count("1") == 1


def _low(value: str | None) -> str | None:
    return value[-8:] if value and len(value) > 10 else value


def _deliberate(crash: Crash, what: str, i: int) -> Finding | None:
    """A crash in a driver whose job is to crash the machine (NotMyFault): a test, not a fault."""
    if drivers.is_deliberate_crash_driver(crash.culprit_module):
        where, confidence = f"the fault is in {crash.culprit_module}", "high"
        where_zh = f"故障位于 {crash.culprit_module}"
    else:
        on_stack = next((f.module for f in crash.stack if drivers.is_deliberate_crash_driver(f.module)), None)
        if on_stack is None:
            return None
        where, confidence = f"{on_stack} is on the crashing stack", "medium"
        where_zh = f"崩溃线程栈上有 {on_stack}"
    return finding(
        "info", "deliberate_crash", confidence, [i],
        ("Crash triggered on purpose (Sysinternals NotMyFault)",
         f"{what}: {where}; myfault.sys is the driver of Sysinternals NotMyFault, a tool that crashes "
         "Windows on request to test crash-dump settings or demonstrate driver bugs.",
         "Nothing to repair: ask who ran NotMyFault. If the test was meant to check the dump settings, the "
         "dump shows they work."),
        ("人为触发的蓝屏（Sysinternals NotMyFault）",
         f"{what}：{where_zh}；myfault.sys 是 Sysinternals NotMyFault 的驱动，该工具按需使 Windows 蓝屏，"
         "用于测试转储设置或演示驱动缺陷。",
         "无需修复：请确认是谁运行了 NotMyFault。如其目的是检验转储设置，则本转储说明设置有效。"),
    )  # fmt: skip


def _manual(what: str, i: int) -> Finding:
    return finding(
        "info", "manual_crash", "high", [i],
        ("Crash triggered on purpose", f"{what}: this code is raised on request (keyboard, NMI, power "
         "button held or a tool), not by a fault.",
         "Nothing to fix unless nobody meant to trigger it; ask who did, or check the NMI/power button."),
        ("人为触发的蓝屏", f"{what}：该代码由人为请求触发（键盘组合键、NMI、长按电源键或工具），并非故障。",
         "除非并非有意触发，否则无需处理；请确认触发来源或检查 NMI/电源键。"),
    )  # fmt: skip


def _livedump(what: str, i: int) -> Finding:
    return finding(
        "info", "live_dump", "high", [i],
        ("Live kernel report, not a crash", f"{what}: Windows wrote this report while it kept running "
         "(for example after a recovered GPU or network hang); the machine did not blue-screen.",
         "Treat it as a hint about hangs; look for the device named in the report."),
        ("实时内核报告，并非蓝屏", f"{what}：这是系统在继续运行时写出的报告（例如 GPU 或网络挂起后已恢复），"
         "机器并未蓝屏。", "可作为卡顿线索，关注报告中涉及的设备。"),
    )  # fmt: skip


def _unknown_code(what: str, i: int) -> Finding:
    return finding(
        "low", "unknown_bugcheck", "high", [i],
        ("Bug check code not in the knowledge table", f"{what}: the code is not documented in our table; "
         "it may be new or the value may be damaged.", "Check the code against Microsoft's Bug Check "
         "Code Reference and the !analyze -v output of the dump."),
        ("知识库中没有该错误代码", f"{what}：该代码不在知识库中，可能是新代码或数值已损坏。",
         "请对照微软 Bug Check Code Reference，并查看该转储的 !analyze -v 输出。"),
    )  # fmt: skip


def _user_mode(crash: Crash, i: int) -> list[Finding]:
    process = crash.process_name or "the process"
    where = crash.culprit_module or "an unknown module"
    what = label(crash)
    if crash.exception_code is None:
        return [finding(
            "info", "no_exception", "high", [i],
            (f"Dump of {process} without an exception",
             f"This user-mode dump of {process} records no exception: it was written on request or for a "
             "hang, so it shows a state, not a crash.",
             "If the process hangs, collect several dumps a few seconds apart (procdump -ma -n 3 -s 5)."),
            (f"{process} 的转储中没有异常记录",
             f"{process} 的这个用户态转储没有异常记录：它是按需或因挂起写出的，反映的是状态而非崩溃。",
             "如进程挂起，请间隔数秒连续收集多个转储（procdump -ma -n 3 -s 5）。"),
        )]  # fmt: skip
    origin = next((m for m in crash.modules if m.name == crash.culprit_module), None)
    owner = ""
    owner_zh = ""
    if origin is not None and origin.origin == "microsoft":
        owner = f" {where} is a Windows module; the caller passing it bad data is the usual culprit."
        owner_zh = f"{where} 是 Windows 模块，通常是向其传入错误数据的调用方有问题。"
    return [finding(
        "medium", "user_mode_crash", "high", [i],
        (f"{process} crashed ({what})",
         f"{process} raised {what} at {crash.exception_address} in {where}." + owner,
         f"Update or repair the application and the vendor of {where}. If it recurs, record the process "
         "with Time Travel Debugging (TTD works for user-mode processes) or collect a full dump with "
         "procdump -ma -e."),
        (f"{process} 崩溃（{what}）",
         f"{process} 在 {where} 中的地址 {crash.exception_address} 处发生 {what}。" + owner_zh,
         f"请更新或修复该应用及 {where} 的提供方。如再次发生，可用 TTD（支持用户态进程）录制该进程，"
         "或用 procdump -ma -e 收集完整转储。"),
    )]  # fmt: skip


def _linux(crash: Crash, i: int) -> list[Finding]:
    title = crash.title or "kernel oops"
    module = crash.culprit_module
    if module:
        return [finding(
            "high", "linux_module_at_fault", "medium", [i],
            (f"Kernel oops in module {module}",
             f"{title}: the faulting instruction is in module [{module}].",
             f"Update or remove {module}; if it is out of tree (taint flags O/E/P), reproduce without it "
             "and report to its vendor with this oops."),
            (f"模块 {module} 中发生内核 oops",
             f"{title}：出错指令位于模块 [{module}] 中。",
             f"请更新或移除 {module}；如其为树外模块（taint 标志 O/E/P），请在不加载该模块时复现，"
             "并附此 oops 向其厂商报告。"),
        )]  # fmt: skip
    return [finding(
        "medium", "linux_oops", "medium", [i],
        ("Linux kernel oops", f"{title}: the fault is in the core kernel; no module is named.",
         "Update the kernel; if it recurs, enable kdump to collect a vmcore and check the hardware "
         "(memtest, mce/EDAC messages)."),
        ("Linux 内核 oops", f"{title}：故障位于内核本体，未指出具体模块。",
         "请升级内核；如再次发生，启用 kdump 收集 vmcore，并检查硬件（memtest、mce/EDAC 日志）。"),
    )]  # fmt: skip
