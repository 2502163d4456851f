"""WinDbg !analyze -v texts written for the tests (classic, key-value, user mode, x86) and helpers to parse them;
the fuzzing tests mutate the same texts."""

from __future__ import annotations

from pathlib import Path

from analysis.parsers import windbg_text
from analysis.parsers.result import Crash, ParseResult

CLASSIC = """\
Loading Dump File [C:\\Windows\\Minidump\\031023-11234-01.dmp]
Mini Kernel Dump File: Only registers and stack trace are available
Windows 10 Kernel Version 19041 MP (8 procs) Free x64
Built by: 19041.1.amd64fre.vb_release.191206-1406
Debug session time: Fri Mar 10 21:31:02.123 2023 (UTC + 8:00)
System Uptime: 0 days 2:11:40.016
BugCheck BE, {fffffec500007038, 8a00000004000021, fffff582b04ea8d0, b}

Probably caused by : ntkrnlmp.exe ( nt!MiSystemFault+1d6d0d )

Followup:     MachineOwner
---------

4: kd> !analyze -v
*******************************************************************************
*                                                                             *
*                        Bugcheck Analysis                                    *
*                                                                             *
*******************************************************************************

ATTEMPTED_WRITE_TO_READONLY_MEMORY (be)
An attempt was made to write to readonly memory.
Arguments:
Arg1: fffffec500007038, Virtual address for the attempted write.
Arg2: 8a00000004000021, PTE contents.
Arg3: fffff582b04ea8d0, (reserved)
Arg4: 000000000000000b, (reserved)

Debugging Details:
------------------

DUMP_CLASS: 1

BUILD_VERSION_STRING:  19041.1.amd64fre.vb_release.191206-1406

CUSTOMER_CRASH_COUNT:  1

DEFAULT_BUCKET_ID:  WIN8_DRIVER_FAULT

BUGCHECK_STR:  0xBE

PROCESS_NAME:  smss.exe

CURRENT_IRQL:  0

STACK_TEXT:
fffff582`b04ea628 fffff800`73436f8d : 00000000`000000be fffffec5`00007038 8a000000`04000021 fffff582`b04ea8d0 : nt!KeBugCheckEx
fffff582`b04ea630 fffff800`73242250 : fffff582`00000000 00000000`00000003 fffff582`b04ea950 00000000`00000000 : nt!MiSystemFault+0x1d6d0d
fffff582`b04ea730 fffff800`73409cd8 : ffffa208`fb513870 ffffb808`95ed2010 ffffa208`00000000 ffffb808`812ae040 : nt!MmAccessFault+0x400
fffff582`b04ea8d0 fffff800`732cc9f1 : 00000000`000001c0 fffff800`732ca537 00000000`00000000 fffff800`73c4edc0 : SfUemIsoSpace+0x1a2b
fffff582`b04eaa60 fffff800`732ca537 : 00000000`00000000 fffff800`73c4edc0 ffffc901`af787370 00000000`00000010 : nt!RtlInterlockedSetClearRunEx+0x71


SYMBOL_NAME:  SfUemIsoSpace+1a2b

MODULE_NAME: SfUemIsoSpace

IMAGE_NAME:  SfUemIsoSpace.sys

FAILURE_BUCKET_ID:  0xBE_SfUemIsoSpace!unknown_function

FAILURE_ID_HASH:  {0b9c7b1e-2a3f-4c0d-9e1a-7a1f7d7c6b21}

Followup:     MachineOwner
---------
"""

KEY_VALUE = """\
*******************************************************************************
*                        Bugcheck Analysis                                    *
*******************************************************************************

SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M (1000007e)
Arguments:
Arg1: ffffffffc0000005, The exception code that was not handled
Arg2: fffff8061c2d1a4b, The address that the exception occurred at
Arg3: ffffb50b8e6f6968, Exception Record Address
Arg4: ffffb50b8e6f61a0, Context Record Address

Debugging Details:
------------------

KEY_VALUES_STRING: 1

    Key  : Bugcheck.Code.LegacyAPI
    Value: 0x1000007e

    Key  : Failure.Bucket
    Value: AV_exampledrv!ExampleDispatch

    Key  : WER.OS.Version
    Value: 10.0.22621.1


BUGCHECK_CODE:  7e

BUGCHECK_P1: ffffffffc0000005

BUGCHECK_P2: fffff8061c2d1a4b

BUGCHECK_P3: ffffb50b8e6f6968

BUGCHECK_P4: ffffb50b8e6f61a0

EXCEPTION_RECORD:  ffffb50b8e6f6968 -- (.exr 0xffffb50b8e6f6968)
ExceptionAddress: fffff8061c2d1a4b (exampledrv!ExampleDispatch+0x000000000000004b)
   ExceptionCode: c0000005 (Access violation)
  ExceptionFlags: 00000000

PROCESS_NAME:  System

STACK_TEXT:
ffffb50b`8e6f6ba0 fffff806`1bd1f3c5 : 00000000`00000000 00000000`00000000 00000000`00000000 00000000`00000000 : exampledrv!ExampleDispatch+0x4b
ffffb50b`8e6f6c00 fffff806`1be08a94 : 00000000`00000000 00000000`00000000 00000000`00000000 00000000`00000000 : nt!PspSystemThreadStartup+0x55

SYMBOL_NAME:  exampledrv!ExampleDispatch+4b

MODULE_NAME: exampledrv

IMAGE_NAME:  exampledrv.sys

OSPLATFORM_TYPE:  x64

FAILURE_BUCKET_ID:  AV_exampledrv!ExampleDispatch
"""

USER_MODE = """\
0:000> !analyze -v
*******************************************************************************
*                        Exception Analysis                                   *
*******************************************************************************

EXCEPTION_RECORD:  (.exr -1)
ExceptionAddress: 00007ffb6c2a1f3e (vendorplugin!Render+0x000000000000002e)
   ExceptionCode: c0000005 (Access violation)
  ExceptionFlags: 00000000
NumberParameters: 2
   Parameter[0]: 0000000000000000
   Parameter[1]: 0000000000000010
Attempt to read from address 0000000000000010

PROCESS_NAME:  viewer.exe

ERROR_CODE: (NTSTATUS) 0xc0000005 - The instruction at 0x%p referenced memory at 0x%p.

STACK_TEXT:
00000025`3a0ff6d0 00007ff6`1b2c10a4 : 00000000`00000000 00000000`00000000 00000000`00000000 00000000`00000000 : vendorplugin!Render+0x2e
00000025`3a0ff700 00007ffb`6e417034 : 00000000`00000000 00000000`00000000 00000000`00000000 00000000`00000000 : viewer+0x10a4

IMAGE_NAME:  vendorplugin.dll

FAILURE_BUCKET_ID:  NULL_CLASS_PTR_READ_c0000005_vendorplugin.dll!Render
"""

X86 = """\
DRIVER_IRQL_NOT_LESS_OR_EQUAL (d1)
Arguments:
Arg1: 00000004, memory referenced
Arg2: 00000002, IRQL
Arg3: 00000000, value 0 = read operation, 1 = write operation
Arg4: f7a1c2d3, address which referenced memory

STACK_TEXT:
a8b7cc34 804f8cc5 000000d1 00000004 00000002 nt!KeBugCheckEx+0x1b
a8b7cc58 f7a1c2d3 00000000 00000000 00000000 olddrv!PollDevice+0x33

MODULE_NAME: olddrv

IMAGE_NAME:  olddrv.sys
"""


def parse_text_file(tmp_path: Path, text: str | bytes, name: str = "analysis.txt") -> ParseResult:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return windbg_text.parse(path)


def only_crash(result: ParseResult) -> Crash:
    assert result.kind == "windbg_text"
    assert len(result.crashes) == 1, result
    return result.crashes[0]
