"""Microsoft inbox drivers versus third-party drivers, without the driver files.

Basis (analysis-spec section 4): the dump gives a driver's name, base, size and PE TimeDateStamp only.
1. A curated vendor table (below) names well-known third-party drivers: third party, with vendor and class.
2. ``INBOX_DRIVERS`` (data/inbox_drivers.txt, with each name's source and the list's date): kernel
   modules shipped in the Windows 10 (19041-19045) and Windows 11 (22000-26100) x64/ARM64 images. Name
   match: Microsoft.
3. Timestamp: since Windows 10, Microsoft builds are reproducible and the PE TimeDateStamp is a hash,
   so an implausible link year (before 2000 or in the future) means Microsoft with high precision; a
   plausible date says nothing (about 20% of Microsoft drivers have one by chance).
4. Otherwise: third party ("not a Windows inbox driver").
Driver paths are a weak signal (most third-party drivers load from System32\\drivers too) and unused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from analysis.parsers.result import Origin

INBOX_FILE = Path(__file__).with_name("data") / "inbox_drivers.txt"


def _inbox() -> frozenset[str]:
    names = []
    for line in INBOX_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            names.append(line.split("\t", 1)[0].strip().lower())
    return frozenset(names)


# Windows 10/11 inbox kernel modules; sources and date in data/inbox_drivers.txt.
INBOX_DRIVERS: frozenset[str] = _inbox()

KERNEL_IMAGES: frozenset[str] = frozenset(
    {"ntoskrnl.exe", "ntkrnlmp.exe", "ntkrnlpa.exe", "ntkrpamp.exe", "ntkrla57.exe", "nt", "hal.dll",
     "hal", "halmacpi.dll", "halacpi.dll"}
)  # fmt: skip


@dataclass(frozen=True)
class VendorInfo:
    vendor: str | None
    product: str
    vendor_class: str


# Classes used by the proximity rules: antivirus/edr, dlp/isolation, vpn/filter, network-capture,
# storage, graphics, virtualization, network, chipset, hardware-utility, anti-cheat, usb.
_VENDORS: dict[str, VendorInfo] = {}


def _add(names: str, vendor: str | None, product: str, vendor_class: str) -> None:
    for name in names.split():
        _VENDORS[name.lower()] = VendorInfo(vendor, product, vendor_class)


# Security software: the driver names below are those the products install (vendor documentation and
# public support threads); the class drives the proximity rules of analysis-spec B.1 D5.
_add("SfUemIsoSpace.sys", None, "UEM isolation space (DLP/isolation agent)", "dlp/isolation")
_add("dgdmk.sys dgfilter.sys", "Digital Guardian", "Digital Guardian agent", "dlp/isolation")
_add("vfsmfd.sys vnwcd.sys", "Broadcom (Symantec)", "Symantec DLP agent", "dlp/isolation")
_add("csagent.sys CSDeviceControl.sys CSBoot.sys CSFirmwareAnalysis.sys", "CrowdStrike", "Falcon sensor",
     "antivirus/edr")  # fmt: skip
_add("SentinelMonitor.sys SentinelELAM.sys", "SentinelOne", "SentinelOne agent", "antivirus/edr")
_add("SymEFASI64.sys symevnt.sys SRTSP64.SYS SRTSPX64.SYS SymELAM.sys Ironx64.sys eeCtrl64.sys "
     "BHDrvx64.sys IDSvia64.sys SymEvent64x86.sys symnets.sys", "Broadcom (Symantec)",
     "Symantec Endpoint Protection", "antivirus/edr")  # fmt: skip
_add("mfehidk.sys mfefirek.sys mfeavfk.sys mfewfpk.sys mfencbdc.sys mfeelamk.sys mfeaack.sys",
     "Trellix (McAfee)", "Endpoint Security", "antivirus/edr")  # fmt: skip
_add("tmcomm.sys tmactmon.sys tmevtmgr.sys TMEBC64.sys tmumh.sys tmnciesc.sys tmwfp.sys tmtdi.sys",
     "Trend Micro", "Apex One / OfficeScan", "antivirus/edr")  # fmt: skip
_add(
    "klif.sys kneps.sys klflt.sys klhk.sys kl1.sys klwfp.sys klim6.sys klbackupdisk.sys klkbdflt.sys "
    "klgse.sys klpd.sys cm_km.sys",
    "Kaspersky",
    "Kaspersky Endpoint Security",
    "antivirus/edr",
)
_add("ehdrv.sys eamonm.sys epfwwfp.sys edevmon.sys epfw.sys", "ESET", "ESET Endpoint", "antivirus/edr")
_add("SophosED.sys savonaccess.sys hmpalert.sys sophosntplwf.sys", "Sophos", "Sophos Endpoint",
     "antivirus/edr")  # fmt: skip
_add("gzflt.sys trufos.sys bdsandbox.sys atc.sys avc3.sys avckf.sys bdvedisk.sys bdelam.sys",
     "Bitdefender", "Bitdefender Endpoint Security", "antivirus/edr")  # fmt: skip
_add("aswSP.sys aswArPot.sys aswMonFlt.sys aswSnx.sys aswStm.sys aswVmm.sys aswbidsdriver.sys "
     "aswElam.sys avgSP.sys avgMonFlt.sys", "Gen Digital (Avast/AVG)", "Avast/AVG Antivirus",
     "antivirus/edr")  # fmt: skip
_add("avgntflt.sys avipbb.sys avkmgr.sys", "Avira", "Avira Antivirus", "antivirus/edr")
_add("cbk7.sys carbonblackk.sys ctifile.sys ctinet.sys parity.sys", "VMware (Carbon Black)",
     "Carbon Black", "antivirus/edr")  # fmt: skip
_add("CyProtectDrv64.sys CyOptics.sys", "BlackBerry (Cylance)", "CylancePROTECT", "antivirus/edr")
_add("cyverak.sys cyvrmtgn.sys tedrdrv.sys cyvrfsfd.sys cyvrlpc.sys", "Palo Alto Networks",
     "Cortex XDR", "antivirus/edr")  # fmt: skip
_add("360FsFlt.sys 360AvFlt.sys 360Box64.sys 360qpesv64.sys 360netmon.sys BAPIDRV64.sys 360Hvm64.sys",
     "Qihoo 360", "360 Total Security / 360 Enterprise", "antivirus/edr")  # fmt: skip
_add("TFsFlt.sys TAOAccelerator64.sys TesMon.sys QMUdisk64.sys TSDefenseBt64.sys", "Tencent",
     "Tencent PC Manager", "antivirus/edr")  # fmt: skip
_add("sysdiag.sys hrwfpdrv.sys hrdevmon.sys hrelam.sys", "Huorong", "Huorong Internet Security",
     "antivirus/edr")  # fmt: skip
_add("kisknl.sys kdhacker64.sys", "Kingsoft", "Kingsoft Antivirus", "antivirus/edr")
# VPN, packet filters and network capture.
_add("wintun.sys wireguard.sys", "WireGuard LLC", "WireGuard / Wintun", "vpn/filter")
_add("tap0901.sys ovpn-dco.sys", "OpenVPN Inc.", "OpenVPN TAP / DCO", "vpn/filter")
_add("vpnva64-6.sys acsock64.sys vpnva-6.sys acsock.sys", "Cisco", "AnyConnect / Secure Client",
     "vpn/filter")  # fmt: skip
_add("vsdatant.sys cpepmon.sys", "Check Point", "Check Point Endpoint / ZoneAlarm", "vpn/filter")
_add("pangpd.sys", "Palo Alto Networks", "GlobalProtect", "vpn/filter")
_add("FortiShield.sys fortimon3.sys FortiRdr.sys FortiFilter.sys ftsvnic.sys", "Fortinet",
     "FortiClient", "vpn/filter")  # fmt: skip
_add("npcap.sys npf.sys", "Nmap Software (Insecure.Com)", "Npcap / WinPcap", "network-capture")
# Virtualisation.
_add("VBoxDrv.sys VBoxNetLwf.sys VBoxUSBMon.sys VBoxNetAdp6.sys VBoxNetAdp.sys VBoxSup.sys "
     "VBoxGuest.sys VBoxUSB.sys VBoxNetFlt.sys VBoxMouse.sys VBoxSF.sys", "Oracle", "VirtualBox",
     "virtualization")  # fmt: skip
_add("vmci.sys vsock.sys vmkbd.sys vmnetadapter.sys VMNET.SYS vmx86.sys hcmon.sys vmnetbridge.sys "
     "vmnetuserif.sys vm3dmp.sys vmmouse.sys vmhgfs.sys vmxnet3.sys vmusb.sys vmmemctl.sys",
     "VMware (Broadcom)", "VMware Workstation / Tools", "virtualization")  # fmt: skip
# Storage.
_add("iaStorA.sys iaStorAC.sys iaStorAVC.sys iaStorVD.sys iaStorE.sys", "Intel",
     "Rapid Storage Technology", "storage")  # fmt: skip
_add("amd_sata.sys amd_xata.sys rcraid.sys rcbottom.sys", "AMD", "AMD SATA/RAID", "storage")
_add("secnvme.sys", "Samsung", "Samsung NVMe driver", "storage")
# Graphics.
_add("nvlddmkm.sys", "NVIDIA", "GeForce/RTX display driver", "graphics")
_add("atikmdag.sys atikmpag.sys amdkmdag.sys amdkmpfd.sys amdfendr.sys amdfendrmgr.sys", "AMD",
     "Radeon display driver", "graphics")  # fmt: skip
_add("igdkmd64.sys igdkmdn64.sys igdkmdnd64.sys igdkmdns64.sys", "Intel", "Intel graphics driver",
     "graphics")  # fmt: skip
# Network adapters.
_add("rt640x64.sys rt68cx21x64.sys rtwlane.sys rtwlane01.sys rtwlanu.sys rtux64w10.sys", "Realtek",
     "Realtek network driver", "network")  # fmt: skip
_add("Netwtw04.sys Netwtw06.sys Netwtw08.sys Netwtw10.sys Netwtw14.sys e1d68x64.sys e1i68x64.sys "
     "e1r68x64.sys e2f68.sys", "Intel", "Intel network driver", "network")  # fmt: skip
_add("bcmwl63a.sys bcmwl63al.sys", "Broadcom", "Broadcom Wi-Fi", "network")
_add("aftap0901.sys", None, "TAP-Windows-based virtual adapter", "vpn/filter")
# Chipset, platform and USB-C.
_add("amdpsp.sys AMDPCIDev.sys amdgpio2.sys amdgpio3.sys amdi2c3.sys AMDRyzenMasterDriver.sys",
     "AMD", "AMD chipset drivers", "chipset")  # fmt: skip
_add("IntelTA.sys", "Intel", "Intel platform driver", "chipset")
_add("UcmCxUcsiNvppc.sys", "NVIDIA", "NVIDIA USB-C controller", "usb")
# Hardware utilities (often also on vulnerable-driver lists).
_add("AsIO2.sys AsIO3.sys AsUpIO.sys", "ASUS", "ASUS system utility I/O driver", "hardware-utility")
_add("RTCore64.sys", "Micro-Star (MSI)", "MSI Afterburner", "hardware-utility")
_add("WinRing0x64.sys WinRing0.sys", None, "WinRing0 (bundled by many tools)", "hardware-utility")
_add("gdrv.sys", "Gigabyte", "Gigabyte utility", "hardware-utility")
_add("NTIOLib_X64.sys", "Micro-Star (MSI)", "MSI utility", "hardware-utility")
_add("HWiNFO64A.SYS HWiNFO64I.SYS", "REALiX", "HWiNFO", "hardware-utility")
# Anti-cheat.
_add("EasyAntiCheat.sys EasyAntiCheat_EOS.sys", "Epic Games", "Easy Anti-Cheat", "anti-cheat")
_add("BEDaisy.sys", "BattlEye", "BattlEye", "anti-cheat")
_add("vgk.sys", "Riot Games", "Vanguard", "anti-cheat")
_add("mhyprot2.sys mhyprot3.sys", "miHoYo", "mhyprot anti-cheat", "anti-cheat")

# Diagnostic and test drivers: present when someone ran a tool that loads them; a crash in one of them was
# usually triggered on purpose (NotMyFault exists to crash the machine). Sources: the Sysinternals tool
# pages (NotMyFault, Process Monitor, Process Explorer, Sysmon, LiveKd, RAMMap) and the Driver Verifier
# documentation (VerifierExt.sys, the DDI compliance checker, ships with Windows).
DIAGNOSTIC_CLASS = "diagnostic/test"
DELIBERATE_CRASH_DRIVERS = frozenset({"myfault.sys"})
_DIAGNOSTIC: dict[str, VendorInfo] = {}


def _diagnostic(names: str, product: str) -> None:
    for name in names.split():
        _DIAGNOSTIC[name.lower()] = VendorInfo("Microsoft (Sysinternals)", product, DIAGNOSTIC_CLASS)


_diagnostic("myfault.sys", "NotMyFault: crashes, hangs and leaks the system on request")
_diagnostic("PROCMON20.SYS PROCMON23.SYS PROCMON24.SYS PROCMON25.SYS", "Process Monitor")
_diagnostic("PROCEXP152.SYS PROCEXP.SYS PROCEXP113.SYS PROCEXP150.SYS PROCEXP151.SYS", "Process Explorer")
_diagnostic("SysmonDrv.sys", "Sysmon (system activity monitor)")
_diagnostic("livekdd.sys", "LiveKd (live kernel debugging)")
_diagnostic("RAMMap.sys RAMMap64.sys", "RAMMap")
_diagnostic("kldbgdrv.sys", "the Windows kernel debugger's local-debugging driver (WinDbg, LiveKd)")


def diagnostic_info(name: str) -> VendorInfo | None:
    """A diagnostic or test tool's driver (NotMyFault, Process Monitor...), or None."""
    lowered = base_name(name).lower()
    if lowered in _DIAGNOSTIC:
        return _DIAGNOSTIC[lowered]
    if _has_extension(lowered):
        return None
    stem = canonical(lowered)
    return next((info for key, info in _DIAGNOSTIC.items() if canonical(key) == stem), None)


def is_deliberate_crash_driver(name: str | None) -> bool:
    """A driver whose purpose is to crash the machine on request (Sysinternals NotMyFault's myfault.sys)."""
    return bool(name) and canonical(name or "") in {canonical(n) for n in DELIBERATE_CRASH_DRIVERS}


SECURITY_CLASSES: frozenset[str] = frozenset(
    {"antivirus/edr", "dlp/isolation", "vpn/filter", "network-capture"}
)


def base_name(name: str) -> str:
    """The file name of a module given as a path (``\\SystemRoot\\...\\x.sys`` or ``/usr/lib/x.so``)."""
    return name.replace("/", "\\").rsplit("\\", 1)[-1].strip()


def canonical(name: str) -> str:
    """Lower-case name without extension, ``nt`` for the kernel images (analysis-spec C.2)."""
    lowered = base_name(name).lower()
    if lowered in {"ntoskrnl.exe", "ntkrnlmp.exe", "ntkrnlpa.exe", "ntkrpamp.exe", "ntkrla57.exe"}:
        return "nt"
    stem, dot, ext = lowered.rpartition(".")
    return stem if dot and ext in {"sys", "dll", "exe", "so", "dylib", "drv", "ko"} else lowered


def is_windows_kernel(name: str) -> bool:
    lowered = base_name(name).lower()
    return lowered in KERNEL_IMAGES or canonical(lowered) in {"nt", "hal"}


def _stem_index() -> tuple[frozenset[str], dict[str, VendorInfo]]:
    # Debugger output names modules without extension ("NETIO", "nvlddmkm"); match those by stem.
    return frozenset(canonical(name) for name in INBOX_DRIVERS), {
        canonical(k): v for k, v in _VENDORS.items()
    }


def _has_extension(name: str) -> bool:
    return "." in base_name(name)


def vendor_info(name: str) -> VendorInfo | None:
    lowered = base_name(name).lower()
    if lowered in _DIAGNOSTIC or (not _has_extension(lowered) and diagnostic_info(lowered)):
        return diagnostic_info(lowered)
    if lowered in _VENDORS:
        return _VENDORS[lowered]
    return None if _has_extension(lowered) else _VENDOR_STEMS.get(canonical(lowered))


def is_inbox(name: str) -> bool:
    lowered = base_name(name).lower()
    if lowered.startswith("dump_"):
        # Crash-dump copies of storage drivers are named dump_<driver>; dump_dumpfve = dumpfve.sys.
        return lowered[5:] in INBOX_DRIVERS
    if lowered in INBOX_DRIVERS:
        return True
    return not _has_extension(lowered) and canonical(lowered) in _INBOX_STEMS


_INBOX_STEMS, _VENDOR_STEMS = _stem_index()


def timestamp_is_hash(timestamp: int | None, now: datetime | None = None) -> bool:
    """True when a PE TimeDateStamp cannot be a link date (Windows 10+ reproducible-build hash)."""
    if timestamp is None:
        return False
    current = now or datetime.now(UTC)
    year = datetime.fromtimestamp(timestamp, UTC).year
    return year < 2000 or year > current.year + 1


def parse_timestamp(value: str | int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value if 0 <= value <= 0xFFFFFFFF else None
    try:
        number = int(value, 16) if value.lower().startswith("0x") else int(value)
    except ValueError:
        return None
    return number if 0 <= number <= 0xFFFFFFFF else None


# Windows' own user-mode images that show up in kernel stacks below a system call (the reference case's
# 0xBE stack ends in smss.exe and ntdll): Microsoft code, and never "a driver".
WINDOWS_USER_IMAGES = frozenset(
    [
        "ntdll",
        "kernel32",
        "kernelbase",
        "smss",
        "csrss",
        "wininit",
        "winlogon",
        "services",
        "lsass",
        "svchost",
        "user32",
        "gdi32",
        "gdi32full",
        "win32u",
        "rpcrt4",
        "combase",
        "ucrtbase",
        "msvcrt",
        "advapi32",
        "sechost",
        "explorer",
        "dwm",
        "lsaiso",
    ]
)


def is_windows_user_image(name: str) -> bool:
    return canonical(name) in WINDOWS_USER_IMAGES


def classify_module(name: str, timestamp: str | int | None = None) -> tuple[Origin, str]:
    """``(origin, reason)`` for a Windows kernel module, by vendor table, inbox list, then timestamp."""
    if is_windows_user_image(name):
        return "microsoft", "a Windows user-mode component (system process or library), not a driver"
    tool = diagnostic_info(name)
    if tool is not None:
        return (
            "microsoft",
            f"a diagnostic or test tool's driver ({tool.vendor}: {tool.product}), not part of Windows",
        )
    vendor = vendor_info(name)
    if vendor is not None:
        who = vendor.vendor or "third-party vendor"
        return "third_party", f"known third-party driver ({who}: {vendor.product}; {vendor.vendor_class})"
    if is_inbox(name):
        return "microsoft", "Windows inbox driver (name in the Windows 10/11 inbox list)"
    stamp = parse_timestamp(timestamp)
    if timestamp_is_hash(stamp):
        return (
            "microsoft",
            "probably Microsoft: TimeDateStamp is a reproducible-build hash, not a date "
            "(name not in the inbox list)",
        )
    if not base_name(name):
        return "unknown", "no module name"
    if stamp is None:
        return "third_party", "not a Windows inbox driver (name not in the inbox list)"
    date = datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d")
    return "third_party", f"not a Windows inbox driver (name not in the inbox list; linked {date})"


def classify_user_module(path: str) -> tuple[Origin, str]:
    """Origin of a user-mode module by where it was loaded from (Windows paths only)."""
    lowered = path.replace("/", "\\").lower()
    if "\\" not in lowered or not (len(lowered) > 2 and lowered[1] == ":"):
        return "unknown", "not a Windows path"
    if lowered[2:].startswith(("\\windows\\system32\\", "\\windows\\syswow64\\", "\\windows\\winsxs\\")):
        return "microsoft", "loaded from the Windows system directory"
    return "third_party", "loaded from outside the Windows directory"
