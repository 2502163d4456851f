"""Linux kernel oops text: the public samples against their sidecars and own dmesg/journal fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from analysis.parsers import linux_oops
from analysis.parsers.result import Crash, ParseResult
from tests.analysis.text_samples import require, sidecar
from tests.samples import sample_params

X86_OOPS = """\
[ 8123.456789] BUG: kernel NULL pointer dereference, address: 0000000000000000
[ 8123.456801] #PF: supervisor read access in kernel mode
[ 8123.456810] #PF: error_code(0x0000) - not-present page
[ 8123.456815] PGD 0 P4D 0
[ 8123.456822] Oops: 0000 [#1] PREEMPT SMP NOPTI
[ 8123.456830] CPU: 3 PID: 1234 Comm: feh Tainted: P           OE     6.1.0-18-amd64 #1  Debian 6.1.76-1
[ 8123.456840] Hardware name: Example Corp. Board X/Board X, BIOS 1.2 01/02/2023
[ 8123.456850] RIP: 0010:amdgpu_dm_commit+0x12/0x40 [amdgpu]
[ 8123.456860] Code: 48 8b 07 <48> 8b 00 c3
[ 8123.456870] RSP: 0018:ffffb1c2c0d3bc48 EFLAGS: 00010246
[ 8123.456880] Call Trace:
[ 8123.456885]  <TASK>
[ 8123.456890]  ? __die+0x20/0x70
[ 8123.456900]  amdgpu_dm_commit+0x12/0x40 [amdgpu]
[ 8123.456910]  drm_atomic_commit+0xa8/0xd0 [drm]
[ 8123.456920]  commit_tail+0x94/0x130
[ 8123.456930]  entry_SYSCALL_64_after_hwframe+0x6e/0xd8
[ 8123.456940] RIP: 0033:0x7f3a1c2b4d3f
[ 8123.456950]  </TASK>
[ 8123.456960] Modules linked in: amdgpu(OE) nvidia(POE) drm_kms_helper drm snd_hda_intel [last unloaded: vboxdrv]
[ 8123.456970] CR2: 0000000000000000
[ 8123.456980] ---[ end trace 0000000000000000 ]---
[ 8123.457000] Kernel panic - not syncing: Fatal exception
"""

ARM64_JOURNAL = """\
Mar 10 13:31:02 pi4 kernel: Unable to handle kernel paging request at virtual address ffff800012345678
Mar 10 13:31:02 pi4 kernel: Mem abort info:
Mar 10 13:31:02 pi4 kernel: Internal error: Oops: 96000007 [#1] PREEMPT SMP
Mar 10 13:31:02 pi4 kernel: Modules linked in: v3d(C) gpu_sched brcmfmac
Mar 10 13:31:02 pi4 kernel: CPU: 1 PID: 77 Comm: kworker/1:2 Not tainted 5.15.84-v8+ #1613
Mar 10 13:31:02 pi4 kernel: Hardware name: Raspberry Pi 4 Model B Rev 1.4 (DT)
Mar 10 13:31:02 pi4 kernel: pstate: 60000005 (nZCv daif -PAN -UAO -TCO -DIT -SSBS BTYPE=--)
Mar 10 13:31:02 pi4 kernel: pc : v3d_irq+0x4c/0x1a0 [v3d]
Mar 10 13:31:02 pi4 kernel: lr : __handle_irq_event_percpu+0x60/0x1e0
Mar 10 13:31:02 pi4 kernel: Call trace:
Mar 10 13:31:02 pi4 kernel:  v3d_irq+0x4c/0x1a0 [v3d]
Mar 10 13:31:02 pi4 kernel:  __handle_irq_event_percpu+0x60/0x1e0
Mar 10 13:31:02 pi4 kernel:  handle_irq_event+0x54/0xc0
Mar 10 13:31:02 pi4 kernel: ---[ end trace 1a2b3c4d5e6f7a8b ]---
"""

PANIC_ONLY = """\
[    2.345678] VFS: Cannot open root device "sda1" or unknown-block(0,0): error -6
[    2.345700] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)
[    2.345710] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 5.10.0-21-amd64 #1 Debian 5.10.162-1
[    2.345720] Call Trace:
[    2.345730]  dump_stack+0x6b/0x83
[    2.345740]  panic+0x101/0x2e3
[    2.345750]  mount_block_root+0x2ce/0x2dd
"""

ISO_JOURNAL = """\
2023-03-10T13:31:02+0800 host kernel: general protection fault, probably for non-canonical address 0xdead000000000122: 0000 [#1] SMP PTI
2023-03-10T13:31:02+0800 host kernel: CPU: 0 PID: 4242 Comm: agent Tainted: G           O      5.4.0-144-generic #161-Ubuntu
2023-03-10T13:31:02+0800 host kernel: RIP: 0010:list_del_entry_valid+0x12/0x90
"""


def parse_text_file(tmp_path: Path, text: str | bytes) -> ParseResult:
    path = tmp_path / "dmesg.txt"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return linux_oops.parse(path)


def only_crash(result: ParseResult) -> Crash:
    assert result.kind == "linux_oops"
    assert len(result.crashes) == 1, result
    return result.crashes[0]


@pytest.mark.parametrize("path", sample_params("linux_oops", "*.txt"))
def test_sample_matches_its_sidecar(path: Path | None) -> None:
    path = require(path)
    truth = sidecar(path)["ground_truth"]
    result = linux_oops.parse(path)
    assert result.errors == ()
    crash = only_crash(result)
    assert crash.title == truth["headline"]
    assert crash.process_name == truth["comm"]
    assert crash.extra["pid"] == truth["pid"]
    assert crash.extra["cpu"] == truth["cpu"]
    assert crash.extra["tainted"] == truth["tainted"]
    assert crash.extra["kernel_version"] == truth["kernel_version"]
    assert crash.extra["oops_code"] == truth["oops_code"]
    assert crash.culprit_module == truth["module"]
    location = truth.get("rip") or truth.get("pc")
    assert crash.extra["fault_location"] == location
    if "hardware" in truth:
        assert crash.extra["hardware"] == truth["hardware"]
    assert crash.architecture == ("arm" if "ARM" in truth["kind"] else "x86_64")
    assert crash.bugcheck_code is None and crash.parameters == ()


def test_feh_sample_details(samples) -> None:
    crash = only_crash(linux_oops.parse(samples("linux_oops/linux_feh_arm_oops.txt")))
    assert crash.exception_address == "0xc01f3218"
    assert crash.extra["staging_modules"][:2] == ["bcm2835_codec", "bcm2835_v4l2"]
    assert crash.extra["uptime_seconds"] == "135992.726639"
    # The excerpt ends before the backtrace: the stack is the faulting function the PC line names.
    assert [(f.symbol, f.offset) for f in crash.stack] == [("seq_vprintf", "0x18")]


def test_x86_oops_with_call_trace_and_panic(tmp_path: Path) -> None:
    crash = only_crash(parse_text_file(tmp_path, X86_OOPS))
    assert crash.title == "BUG: kernel NULL pointer dereference, address: 0000000000000000"
    assert crash.process_name == "feh"
    assert (crash.extra["pid"], crash.extra["cpu"]) == (1234, 3)
    assert crash.extra["tainted"] == "P O E"
    assert crash.extra["kernel_version"] == "6.1.0-18-amd64"
    assert crash.culprit_module == "amdgpu"
    assert crash.architecture == "x86_64"
    assert crash.exception_address is None  # the RIP line names a function, not an address
    assert crash.extra["panic"] == "Kernel panic - not syncing: Fatal exception"
    assert crash.extra["out_of_tree_modules"] == ["amdgpu", "nvidia"]
    assert crash.extra["proprietary_modules"] == ["nvidia"]
    assert crash.extra["unsigned_modules"] == ["amdgpu", "nvidia"]
    assert crash.extra["last_unloaded_module"] == "vboxdrv"
    assert crash.extra["unreliable_frames"] == 1
    frames = [(f.module, f.symbol, f.offset) for f in crash.stack]
    assert frames == [
        ("amdgpu", "amdgpu_dm_commit", "0x12"),
        ("drm", "drm_atomic_commit", "0xa8"),
        (None, "commit_tail", "0x94"),
        (None, "entry_SYSCALL_64_after_hwframe", "0x6e"),
    ]


def test_arm64_journal(tmp_path: Path) -> None:
    crash = only_crash(parse_text_file(tmp_path, ARM64_JOURNAL))
    assert crash.title.startswith("Unable to handle kernel paging request")
    assert crash.architecture == "arm64"
    assert crash.culprit_module == "v3d"
    assert crash.process_name == "kworker/1:2"
    assert crash.extra["tainted"] == "" and crash.extra["tainted_flags"] == []
    assert crash.extra["oops_code"] == "96000007 [#1] PREEMPT SMP"
    assert crash.extra["log_time"] == "Mar 10 13:31:02"
    assert crash.crash_time is None  # no year or zone in a short journal prefix
    assert [f.symbol for f in crash.stack] == ["v3d_irq", "__handle_irq_event_percpu", "handle_irq_event"]


def test_panic_without_oops(tmp_path: Path) -> None:
    crash = only_crash(parse_text_file(tmp_path, PANIC_ONLY))
    assert crash.title == "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)"
    assert crash.process_name == "swapper/0"
    assert crash.architecture is None  # no RIP/PC line: not guessed from the call trace
    # dump_stack and panic only show the kernel reporting; the first frame is where it went wrong.
    assert [f.symbol for f in crash.stack] == ["mount_block_root"]


def test_iso_journal_gives_utc_time(tmp_path: Path) -> None:
    crash = only_crash(parse_text_file(tmp_path, ISO_JOURNAL))
    assert crash.crash_time == "2023-03-10T05:31:02Z"
    assert crash.extra["oops_code"] == "0000 [#1] SMP PTI"
    assert crash.culprit_module is None
    assert crash.extra["fault_location"] == "list_del_entry_valid+0x12/0x90"


def test_several_oopses_give_several_crashes(tmp_path: Path) -> None:
    result = parse_text_file(tmp_path, X86_OOPS + "[ 9000.000000] random line\n" + ISO_JOURNAL + PANIC_ONLY)
    titles = [c.title for c in result.crashes]
    assert len(titles) == 3
    assert titles[1].startswith("general protection fault")
    assert titles[2].startswith("Kernel panic - not syncing: VFS")


def test_quoted_and_html_escaped_paste(tmp_path: Path) -> None:
    text = "```\n" + "".join(
        f"> {line}\n" for line in X86_OOPS.replace("<", "&lt;").replace(">", "&gt;").splitlines()
    )
    crash = only_crash(parse_text_file(tmp_path, text + "```\n"))
    assert crash.culprit_module == "amdgpu"
    assert len(crash.stack) == 4


def test_text_without_oops(tmp_path: Path) -> None:
    result = parse_text_file(tmp_path, "[    0.000000] Linux version 6.1.0\n[    1.0] usb 1-1: new device\n")
    assert result.crashes == ()
    assert result.errors == (
        "no crash found: no kernel oops, BUG, WARNING, lockup or panic line in the text",
    )


def test_random_bytes_and_missing_file(tmp_path: Path) -> None:
    result = parse_text_file(tmp_path, os.urandom(32 * 1024))
    assert result.kind == "linux_oops"
    assert linux_oops.parse(tmp_path / "nope.txt").errors[0].startswith("cannot read the file")
