"""The recommendation catalogue: what an engineer asks the customer to do, each action once, by value.

A finding names its actions as ``id`` or ``id:arg,arg`` (drivers or products the action is about). A
findings message merges them: one line per action, the arguments of every finding that asks for it
together, ordered by value (what is most likely to settle the case first), and without the actions that
ask for something the case already holds (analysis-spec B.3; research/analysis-spec.md A's action ids).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Action:
    id: str
    rank: int  # lower = more valuable, asked first
    en: str
    zh: str
    # What the case must not already hold for the action to be asked ("kernel_memory_dump", "system_log"...).
    unless_held: str | None = None


_ACTIONS = [
    Action("ask_who_ran_tool", 5,
           "Ask who ran {args}: the crash was triggered on purpose, so there is nothing to repair if it was a test.",
           "请确认是谁运行了 {args}：该蓝屏为人为触发，如属测试则无需修复。"),
    Action("hardware_diagnostics", 10,
           "Check the hardware the platform reported: read the WHEA-Logger events (they name the component), update "
           "the BIOS/UEFI and CPU microcode, remove any overclock or undervolt (XMP included), check temperatures and "
           "the power supply, and run the hardware vendor's diagnostics.",
           "检查平台报告的硬件错误：查看 WHEA-Logger 事件（其中指出具体部件），更新 BIOS/UEFI 与 CPU 微码，取消超频/降压"
           "（包括 XMP），检查温度与电源，并运行硬件厂商的诊断工具。"),
    Action("replace_memory", 11,
           "Replace or reseat the memory: test the modules one by one, remove XMP/overclock and update the BIOS.",
           "更换或重新插拔内存：逐条测试内存条，取消 XMP/超频并更新 BIOS。"),
    Action("update_driver", 15,
           "Update {args} to the vendor's current version (or roll back a recent update); if crashes continue, "
           "uninstall the product as a test and send the dumps to its vendor.",
           "将 {args} 更新到厂商最新版本（或回退最近的更新）；如仍蓝屏，可临时卸载该产品验证，并将转储发给厂商。"),
    Action("driver_verifier", 20,
           "Enable Driver Verifier on {args} only (verifier /standard /driver {names}), restart, and upload the "
           "dump of the next crash: Verifier stops the machine at the driver's faulty call instead of later, far "
           "from it. Turn it off afterwards (verifier /reset); if Windows no longer starts, Safe Mode disables it.",
           "仅对 {args} 启用 Driver Verifier（verifier /standard /driver {names}），重启并上传下一次蓝屏的转储："
           "Verifier 会在驱动出错的调用处立即停止系统，而不是事后在别处蓝屏。之后请关闭（verifier /reset）；"
           "如无法启动，可进入安全模式关闭。"),
    Action("run_mdsched", 25,
           "Run the Windows Memory Diagnostic (mdsched.exe, restart now) and read its result in Event Viewer > "
           "Windows Logs > System, source MemoryDiagnostics-Results. A clean pass does not rule out an intermittent "
           "fault: if crashes continue, run an extended test over several passes (for example MemTest86) and test "
           "the modules one by one.",
           "执行 mdsched 命令运行 Windows 内存诊断（立即重启并检查），之后在“事件查看器 > Windows 日志 > 系统”中查看来源为 "
           "MemoryDiagnostics-Results 的结果。一次通过不能排除间歇性故障：如仍蓝屏，请进行多轮扩展测试（如 MemTest86）"
           "并逐条测试内存条。"),
    Action("test_without_software", 30,
           "Test without {args}: disable or uninstall the product that installs it (clean boot) and watch for "
           "crashes; ask its vendor for a current version.",
           "在不加载 {args} 的情况下验证：停用或卸载安装它的产品（干净启动）后观察是否仍蓝屏，并向厂商索取最新版本。"),
    Action("check_disk", 30,
           "Back up the data, run chkdsk /f /r on the system drive and the disk vendor's diagnostics (SMART), check "
           "cables and controller, and update the storage driver and SSD firmware.",
           "先备份数据，对系统盘运行 chkdsk /f /r 与磁盘厂商诊断工具（SMART），检查数据线和控制器，并更新存储驱动与 SSD 固件。"),
    Action("power_drivers", 32,
           "Update the drivers and firmware of the device named in the power failure{args_suffix} and the BIOS; as a "
           "workaround disable Fast Startup and hybrid sleep.",
           "更新电源故障所涉设备{args_suffix_zh}的驱动与固件及 BIOS；临时可关闭快速启动和混合睡眠。"),
    Action("dpc_drivers", 32,
           "Update the storage controller driver and SSD firmware first, then network and graphics drivers and the "
           "BIOS{args_suffix}.",
           "请先更新存储控制器驱动和 SSD 固件，再更新网卡、显卡驱动与 BIOS{args_suffix_zh}。"),
    Action("graphics_driver", 32,
           "Install the GPU vendor's current driver (clean install), remove GPU overclocks, and check temperatures and "
           "the power supply.",
           "安装显卡厂商最新驱动（清洁安装），取消显卡超频，并检查温度与电源。"),
    Action("verifier_off", 34,
           "Switch Driver Verifier off once the named driver is updated or removed (verifier /reset).",
           "更新或移除被指出的驱动后，关闭 Driver Verifier（verifier /reset）。"),
    Action("system_files", 36,
           "Check the disk (chkdsk) and system files (sfc /scannow, then DISM /Online /Cleanup-Image /RestoreHealth).",
           "检查磁盘（chkdsk）和系统文件（sfc /scannow，然后 DISM /Online /Cleanup-Image /RestoreHealth）。"),
    Action("app_update", 38,
           "Update or repair {args}; if it recurs, collect a full dump of the process (procdump -ma -e) or record it "
           "with Time Travel Debugging (user-mode processes only).",
           "更新或修复 {args}；如再次发生，请收集该进程的完整转储（procdump -ma -e），或用 TTD（仅支持用户态进程）录制。"),
    Action("collect_kernel_dump", 40,
           "Set Startup and Recovery to write a Kernel or Automatic memory dump (a page file on the system drive at "
           "least as large as the kernel memory, enough free space; on virtual machines also disable automatic "
           "restart) and upload C:\\Windows\\MEMORY.DMP after the next crash: a minidump keeps one thread and no "
           "pool, so it cannot show who corrupted memory. Time Travel Debugging records user-mode processes only "
           "and cannot trace a kernel crash.",
           "在“启动和故障恢复”中改为写入“核心内存转储”或“自动内存转储”（系统盘分页文件不小于内核内存、磁盘空间充足；"
           "虚拟机上同时关闭自动重启），下次蓝屏后上传 C:\\Windows\\MEMORY.DMP：小型转储只保留一个线程且没有内存池信息，"
           "无法追溯内存被谁破坏。TTD 只能录制用户态进程，无法追踪内核蓝屏。",
           unless_held="kernel_memory_dump"),
    Action("fix_dump_settings", 42,
           "Check the dump settings: Startup and Recovery set to Automatic memory dump, a page file on the system "
           "drive (system managed), enough free space and no volmgr 46 errors; check the power supply and "
           "temperatures for restarts without any bug check.",
           "检查转储设置：“启动和故障恢复”设为“自动内存转储”，系统盘上有分页文件（系统管理大小）且空间充足，且无 volmgr 46 "
           "错误；对没有任何错误代码的重启，请检查电源与温度。"),
    Action("upload_dumps", 45,
           "Upload the dumps of the crashes that have none in the case yet ({args}): C:\\Windows\\Minidump\\*.dmp and "
           "C:\\Windows\\MEMORY.DMP if present.",
           "请上传案例中尚无转储的那几次蓝屏的转储（{args}）：C:\\Windows\\Minidump\\*.dmp，以及 C:\\Windows\\MEMORY.DMP（如存在）。"),
    Action("upload_system_log", 48,
           "Upload the System event log (Event Viewer > Windows Logs > System > Save All Events As, .evtx): it shows "
           "every bug check and hardware error of the machine, not only the ones with a dump.",
           "请上传系统事件日志（事件查看器 > Windows 日志 > 系统 > 将所有事件另存为 .evtx）：其中记录了本机的全部蓝屏与硬件错误，"
           "而不只是有转储的那几次。",
           unless_held="system_log"),
]  # fmt: skip
CATALOGUE: dict[str, Action] = {action.id: action for action in _ACTIONS}


def action(action_id: str, *args: str) -> str:
    """An action reference for a finding: ``driver_verifier:a.sys,b.sys``."""
    if action_id not in CATALOGUE:
        raise KeyError(action_id)
    clean = [arg.replace(",", " ") for arg in args if arg]
    return f"{action_id}:{','.join(clean)}" if clean else action_id


def split(reference: str) -> tuple[str, list[str]]:
    action_id, _sep, rest = reference.partition(":")
    return action_id, [arg for arg in rest.split(",") if arg]


def merged(
    references: Iterable[str], holdings: frozenset[str] = frozenset()
) -> list[tuple[Action, list[str]]]:
    """Each action once with the arguments of every finding that asks for it, by value; actions that ask for
    what the case already holds (``holdings``) left out."""
    found: dict[str, list[str]] = {}
    for reference in references:
        action_id, args = split(reference)
        if action_id not in CATALOGUE:
            continue
        bucket = found.setdefault(action_id, [])
        bucket.extend(arg for arg in args if arg not in bucket)
    if "collect_kernel_dump" in found and "fix_dump_settings" in found:
        # Both are about Startup and Recovery: one line, the dump-settings checks folded into the dump's.
        del found["fix_dump_settings"]
        found["collect_kernel_dump"] = [*found["collect_kernel_dump"], _WITH_SETTINGS]
    out = [(CATALOGUE[key], args) for key, args in found.items()]
    out = [(act, args) for act, args in out if not (act.unless_held and act.unless_held in holdings)]
    return sorted(out, key=lambda pair: pair[0].rank)


_WITH_SETTINGS = "+dump-settings"
_SETTINGS_EN = (
    " Check too that no volmgr 46 (dump initialisation failed) errors are logged, and the power supply and "
    "temperatures for restarts without any bug check."
)
_SETTINGS_ZH = (
    "同时确认日志中没有 volmgr 46（转储初始化失败）错误；对没有任何错误代码的重启，请检查电源与温度。"
)


def render(act: Action, args: list[str], language: str) -> str:
    """The action's sentence in English or Chinese ("zh"), with its drivers or products filled in."""
    zh = language.startswith("zh")
    settings = _WITH_SETTINGS in args
    args = [arg for arg in args if arg != _WITH_SETTINGS]
    text = (act.zh if zh else act.en) + ((_SETTINGS_ZH if zh else _SETTINGS_EN) if settings else "")
    joined = ("、" if zh else ", ").join(args)
    suffix = f" ({joined})" if args and not zh else ""
    suffix_zh = f"（{joined}）" if args and zh else ""
    names = " ".join(args)
    return text.format(args=joined or ("相关驱动" if zh else "the drivers named above"), names=names or "<driver>",
                       args_suffix=suffix, args_suffix_zh=suffix_zh)  # fmt: skip


def render_all(references: Iterable[str], language: str, holdings: frozenset[str] = frozenset()) -> list[str]:
    return [render(act, args, language) for act, args in merged(references, holdings)]
