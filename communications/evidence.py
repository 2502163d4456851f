"""Ready-made evidence requests: the files support asks for most, with collection steps in both languages."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from uploads.models import Upload


@dataclass(frozen=True)
class Preset:
    code: str
    kind: str
    filename_pattern: str
    label: dict[str, str]
    instructions: dict[str, str]


PRESETS: dict[str, Preset] = {
    p.code: p
    for p in (
        Preset(
            "minidumps",
            Upload.Kind.KERNEL_DUMP,
            "",
            {
                "en": r"The crash dumps in C:\Windows\Minidump",
                "zh-hans": r"C:\Windows\Minidump 目录下的蓝屏 dump 文件",
            },
            {
                "en": r"Open C:\Windows\Minidump in File Explorer (administrator rights are needed), copy every "
                r".dmp file to your desktop and put them in one zip file.",
                "zh-hans": r"在资源管理器中打开 C:\Windows\Minidump（需要管理员权限），将所有 .dmp 文件复制到桌面，"
                "并压缩成一个 zip 文件。",
            },
        ),
        Preset(
            "memory_dmp",
            Upload.Kind.KERNEL_DUMP,
            "memory*.dmp",
            {
                "en": r"The memory dump C:\Windows\MEMORY.DMP",
                "zh-hans": r"内存转储文件 C:\Windows\MEMORY.DMP",
            },
            {
                "en": r"Copy C:\Windows\MEMORY.DMP soon after the crash (the next crash overwrites it). It is "
                "often several GB: compress it into a zip file before uploading.",
                "zh-hans": r"蓝屏后请尽快复制 C:\Windows\MEMORY.DMP（下一次蓝屏会覆盖该文件）。该文件通常有数 GB，"
                "请先压缩成 zip 文件再上传。",
            },
        ),
        Preset(
            "system_log",
            Upload.Kind.EVTX,
            "",
            {"en": "The System event log", "zh-hans": "系统事件日志（System）"},
            {
                "en": 'Run eventvwr.msc, open Windows Logs > System, choose "Save All Events As..." and save '
                r"it as System.evtx; or run in an administrator prompt: wevtutil epl System C:\Temp\System.evtx",
                "zh-hans": "运行 eventvwr.msc，打开 Windows 日志 > 系统，选择“将所有事件另存为...”，保存为 "
                r"System.evtx；或在管理员命令提示符中运行：wevtutil epl System C:\Temp\System.evtx",
            },
        ),
        Preset(
            "application_log",
            Upload.Kind.EVTX,
            "*application*",
            {"en": "The Application event log", "zh-hans": "应用程序事件日志（Application）"},
            {
                "en": r"In an administrator prompt run: wevtutil epl Application C:\Temp\Application.evtx",
                "zh-hans": r"在管理员命令提示符中运行：wevtutil epl Application C:\Temp\Application.evtx",
            },
        ),
    )
}

PRESET_CHOICES = [
    ("minidumps", _(r"Crash dumps (C:\Windows\Minidump)")),
    ("memory_dmp", _(r"Memory dump (C:\Windows\MEMORY.DMP)")),
    ("system_log", _("System event log")),
    ("application_log", _("Application event log")),
]
