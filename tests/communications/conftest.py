"""The reference case (CAS-08433) rebuilt from rows: four blue screens, a third-party driver, findings in
both languages, and an internal note that must never reach the customer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from analysis.models import Crash, Finding
from cases import services as case_services
from cases.models import Case
from config.celery import app
from uploads.models import Upload

INTERNAL_NOTE = "INTERNAL-ONLY: customer's admin is difficult, token 4711"


def make_upload(
    case: Case, *, filename: str, kind: str, state: str = Upload.State.ANALYSED, by=None
) -> Upload:
    return Upload.objects.create(
        case=case,
        uploaded_by=by,
        filename=filename,
        size=1024,
        offset=1024,
        sha256="0" * 64,
        state=state,
        kind=kind,
        storage_name=f"{case.number}/{filename}",
    )


CRASHES = [
    # time, code, name, process, culprit, third-party drivers
    (
        datetime(2023, 3, 10, 13, 31, 2, tzinfo=UTC),
        "0x000000be",
        "ATTEMPTED_WRITE_TO_READONLY_MEMORY",
        "smss.exe",
        "",
        ["SfUemIsoSpace.sys"],
    ),
    (datetime(2023, 3, 8, 9, 12, tzinfo=UTC), "0x0000001a", "MEMORY_MANAGEMENT", "", "", []),
    (datetime(2023, 3, 6, 18, 40, tzinfo=UTC), "0x000000c2", "BAD_POOL_CALLER", "", "", []),
    (
        datetime(2023, 3, 2, 11, 5, tzinfo=UTC),
        "0x0000007e",
        "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED",
        "",
        "SfUemIsoSpace.sys",
        [],
    ),
]

FINDINGS = [
    dict(
        severity="high",
        code="memory_diagnostic",
        title="Different bug check codes, mostly memory-related",
        detail="4 blue screens with 4 different codes (0xBE, 0x1A, 0xC2, 0x7E).",
        recommendation="Run the Windows Memory Diagnostic (mdsched) and check MemoryDiagnostics-Results.",
        title_zh="多次蓝屏且错误代码各不相同，多为内存相关错误",
        detail_zh="共 4 次蓝屏，错误代码各不相同（0xBE、0x1A、0xC2、0x7E）。",
        recommendation_zh="执行 cmd 命令 mdsched 检查内存，结果见 MemoryDiagnostics-Results。",
    ),
    dict(
        severity="high",
        code="third_party_driver",
        title="Third-party driver SfUemIsoSpace.sys loaded",
        detail="SfUemIsoSpace.sys is not a Windows driver.",
        recommendation="Update or remove SfUemIsoSpace.sys and watch whether the crashes stop.",
        title_zh="加载了第三方驱动 SfUemIsoSpace.sys",
        detail_zh="SfUemIsoSpace.sys 不是 Windows 自带驱动。",
        recommendation_zh="更新或移除 SfUemIsoSpace.sys，并观察是否仍然蓝屏。",
    ),
    dict(
        severity="medium",
        code="collect_kernel_dump",
        title="The minidump cannot show how the memory was corrupted",
        detail="",
        recommendation="If it recurs, collect a full memory dump or a Time Travel Trace.",
        title_zh="minidump 无法追溯内存地址的创建过程",
        detail_zh="",
        recommendation_zh="如再次出现，请收集完整内存转储或 TTT 动态跟踪。",
    ),
]


@pytest.fixture
def reference_case(scoped_case, engineer, customer) -> Case:
    """The scoped case with an analysed kernel dump and System log, four crashes and three findings."""
    dump = make_upload(scoped_case, filename="031023-12515-01.dmp", kind=Upload.Kind.KERNEL_DUMP, by=customer)
    log = make_upload(scoped_case, filename="System.evtx", kind=Upload.Kind.EVTX, by=customer)
    for index, (when, code, name, process, culprit, drivers) in enumerate(CRASHES):
        Crash.objects.create(
            upload=dump if index == 0 else log,
            case=scoped_case,
            index=index,
            crash_time=when,
            code=code,
            name=name,
            process_name=process,
            culprit_module=culprit,
            third_party_drivers=list(drivers),
            parameters=["0xfffffec500007038", "0x8a00000004000021", "0xfffff582b04ea8d0", "0xb"]
            if index == 0
            else [],
        )
    for seq, data in enumerate(FINDINGS):
        Finding.objects.create(case=scoped_case, seq=seq, **data)
    case_services.timeline_add(actor=engineer, case=scoped_case, body=INTERNAL_NOTE, internal=True)
    return scoped_case


@pytest.fixture
def eager(monkeypatch):
    """Tasks run in the test's process when queued (as a worker would run them), retries included."""

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    monkeypatch.setitem(app.conf, "task_eager_propagates", False)
    return app
