"""Decoders for the hardware bug checks, to the level an expert's write-up reaches.

References: Microsoft's bug check pages for 0x124 WHEA_UNCORRECTABLE_ERROR (P1 is the WHEA error source
type; for a machine check, P3 and P4 are the high and low 32 bits of the bank's MCi_STATUS), 0x9F
DRIVER_POWER_STATE_FAILURE (P1 3: a device object blocked an IRP; P2 the physical device object, P4 the
IRP) and 0x133 DPC_WATCHDOG_VIOLATION (P1 0: one DPC over its allotment, P1 1: too long at DISPATCH_LEVEL
overall); WHEA_ERROR_SOURCE_TYPE in the WDK; Intel SDM Vol. 3B chapter 15 (IA32_MCi_STATUS bits and the
compound MCA error codes, which AMD's machine check architecture shares).
"""

from __future__ import annotations

from dataclasses import dataclass

WHEA_SOURCE_TYPES: dict[int, tuple[str, str]] = {
    0x0: (
        "machine check exception (the processor reported an uncorrectable error)",
        "机器检查异常（处理器报告了无法纠正的错误）",
    ),
    0x1: ("corrected machine check", "已纠正的机器检查"),
    0x2: ("corrected platform error", "已纠正的平台错误"),
    0x3: ("non-maskable interrupt (NMI)", "不可屏蔽中断（NMI）"),
    0x4: ("PCI Express error", "PCI Express 错误"),
    0x5: ("generic error source (firmware-reported)", "通用错误源（固件报告）"),
    0x6: ("INIT error (Itanium)", "INIT 错误（安腾）"),
    0x7: ("boot error source (an error left from before this boot)", "启动错误源（本次启动前遗留的错误）"),
    0x8: ("SCI-based generic error source", "基于 SCI 的通用错误源"),
    0x9: ("corrected machine check (Itanium)", "已纠正的机器检查（安腾）"),
    0xA: ("corrected machine check interrupt (CMCI)", "已纠正的机器检查中断（CMCI）"),
    0xB: ("corrected platform error interrupt (CPEI)", "已纠正的平台错误中断（CPEI）"),
}


@dataclass(frozen=True)
class MciStatus:
    valid: bool
    overflow: bool
    uncorrected: bool
    context_corrupt: bool
    address_valid: bool
    error_code: int
    component: str
    component_zh: str

    def describe(self, language: str = "en") -> str:
        zh = language.startswith("zh")
        flags = []
        if self.uncorrected:
            flags.append("无法纠正" if zh else "uncorrected")
        if self.context_corrupt:
            flags.append("处理器上下文已损坏" if zh else "processor context corrupt")
        if self.overflow:
            flags.append("多次错误溢出" if zh else "more errors overflowed")
        if self.address_valid:
            flags.append("记录了出错地址" if zh else "error address recorded")
        component = self.component_zh if zh else self.component
        joined = ("，" if zh else ", ").join(flags)
        if zh:
            return f"{component}（MCA 错误代码 0x{self.error_code:04x}{'，' + joined if joined else ''}）"
        return f"{component} (MCA error code 0x{self.error_code:04x}{', ' + joined if joined else ''})"


def decode_mci_status(value: int) -> MciStatus:
    """IA32_MCi_STATUS: validity and severity bits, and what the compound error code says failed."""
    code = value & 0xFFFF
    component, component_zh = _component(code)
    return MciStatus(
        valid=bool(value >> 63 & 1),
        overflow=bool(value >> 62 & 1),
        uncorrected=bool(value >> 61 & 1),
        context_corrupt=bool(value >> 57 & 1),
        address_valid=bool(value >> 58 & 1),
        error_code=code,
        component=component,
        component_zh=component_zh,
    )


_LEVELS = {0: "L0", 1: "L1", 2: "L2", 3: "generic level"}


def _component(code: int) -> tuple[str, str]:
    simple = code & 0xEFFF  # bit 12 only says whether corrected errors are filtered
    if simple == 0:
        return "no error recorded", "未记录错误"
    if simple in (0x0001, 0x0002, 0x0003, 0x0004, 0x0005) or 0x0400 <= simple <= 0x07FF:
        return (
            "processor internal error (microcode, parity, timer or unclassified)",
            "处理器内部错误（微码、奇偶校验、计时器或未分类）",
        )
    if 0x0800 <= simple <= 0x0FFF:
        return (
            "bus or interconnect error (memory bus, PCIe, QPI/UPI/Infinity Fabric)",
            "总线或互连错误（内存总线、PCIe、QPI/UPI/Infinity Fabric）",
        )
    if 0x0100 <= simple <= 0x01FF:
        level = _LEVELS[simple & 0x3]
        kind, kind_zh = {1: ("instruction", "指令"), 0: ("data", "数据")}.get(
            simple >> 2 & 0x3, ("unified", "统一")
        )
        return f"processor cache error ({level} {kind} cache)", f"处理器缓存错误（{level} {kind_zh}缓存）"
    if 0x0080 <= simple <= 0x00FF:
        channel = simple & 0xF
        where = f", channel {channel}" if channel != 0xF else ""
        return (
            f"memory controller error (RAM or its controller{where})",
            f"内存控制器错误（内存条或其控制器{where}）",
        )
    if 0x0010 <= simple <= 0x001F:
        return f"TLB error ({_LEVELS[simple & 0x3]})", f"TLB 错误（{_LEVELS[simple & 0x3]}）"
    if 0x000C <= simple <= 0x000F:
        return f"cache hierarchy error ({_LEVELS[simple & 0x3]})", f"缓存层次错误（{_LEVELS[simple & 0x3]}）"
    return "model-specific error", "型号特定错误"


def whea_explanation(parameters: tuple[str | None, ...], language: str = "en") -> str:
    """What a 0x124's parameters say: the error source and, for a machine check, the bank's status."""
    zh = language.startswith("zh")
    values = [_int(p) for p in parameters] + [None] * 4
    source = values[0]
    if source is None:
        return ""
    name = WHEA_SOURCE_TYPES.get(source, (f"error source type 0x{source:x}", f"错误源类型 0x{source:x}"))
    text = name[1] if zh else name[0]
    high, low = values[2], values[3]
    if source == 0 and high is not None and low is not None:
        status = decode_mci_status((high & 0xFFFFFFFF) << 32 | (low & 0xFFFFFFFF))
        text += ("；出错部件：" if zh else "; failing part: ") + status.describe(language)
    return text


def power_explanation(parameters: tuple[str | None, ...], stack: list[str], language: str = "en") -> str:
    """0x9F: the kind of power failure and, when the text shows it, the device's driver stack."""
    zh = language.startswith("zh")
    subtype = _int(parameters[0]) if parameters else None
    kinds = {
        0x1: (
            "a device object being freed still had a power request pending",
            "正在释放的设备对象仍有未完成的电源请求",
        ),
        0x2: (
            "a device completed a system power IRP without starting the next one",
            "设备完成了系统电源 IRP，但未启动下一个",
        ),
        0x3: (
            "a device object blocked a power IRP too long (P2: the device's PDO, P4: the blocked IRP)",
            "设备对象阻塞电源 IRP 时间过长（P2：设备的 PDO，P4：被阻塞的 IRP）",
        ),
        0x4: ("the power transition timed out waiting for Plug and Play", "电源切换在等待即插即用时超时"),
        0x5: ("a device object completed a power IRP twice", "设备对象重复完成了电源 IRP"),
    }
    text = kinds.get(subtype or -1, ("", ""))[1 if zh else 0]
    if stack:
        joined = (" → " if not zh else " → ").join(stack)
        text += (
            (f"；设备驱动栈：{joined}" if zh else f"; the device's driver stack: {joined}")
            if text
            else joined
        )
    return text


def dpc_explanation(parameters: tuple[str | None, ...], language: str = "en") -> str:
    """0x133: one DPC over its allotment (P2 ticks against P3), or too long at DISPATCH_LEVEL overall."""
    zh = language.startswith("zh")
    values = [_int(p) for p in parameters] + [None] * 4
    if values[0] == 0:
        used, allowed = values[1], values[2]
        if used is not None and allowed is not None:
            return (f"单个 DPC 或中断运行了 {used} 个时钟周期，超过了 {allowed} 的限额" if zh
                    else f"a single DPC or interrupt ran {used} ticks against an allotment of {allowed}")  # fmt: skip
        return "单个 DPC 或中断超出了限额" if zh else "a single DPC or interrupt ran past its allotment"
    if values[0] == 1:
        return ("系统累计在 DISPATCH_LEVEL 或更高级别停留过久（多个 DPC 的总和），需要核心内存转储查看是哪些 DPC"
                if zh else "the system stayed at DISPATCH_LEVEL or above too long in total (many DPCs together); a "
                "kernel memory dump shows which")  # fmt: skip
    return ""


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value, 16)
    except ValueError:
        return None


def whea_event_fact(data: dict[str, object], language: str = "en") -> str:
    """One WHEA-Logger event as an expert quotes it: processor, bank and the failing part."""
    zh = language.startswith("zh")
    parts = []
    apic = data.get("ApicId")
    bank = data.get("MCABank")
    if apic is not None:
        parts.append(f"处理器 APIC {apic}" if zh else f"processor APIC ID {apic}")
    if bank is not None:
        parts.append(f"MCA 第 {bank} 组" if zh else f"MCA bank {bank}")
    status = _int(str(data.get("MciStat"))) if data.get("MciStat") is not None else None
    if status:
        parts.append(decode_mci_status(status).describe(language))
    elif data.get("ErrorType"):
        parts.append(str(data["ErrorType"]))
    return ("，" if zh else ", ").join(parts)
