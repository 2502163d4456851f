"""``python manage.py seed_demo``: demo organisations, users and cases (DESIGN.md "Demo data")."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.urls import reverse

from accounts.models import Organisation, User
from cases import conversation, services
from cases.models import Case, ResolutionType, Severity
from config.links import site_url
from uploads.services import upload_store_bytes

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"

REFERENCE_TITLE = "Windows 10 终端频繁蓝屏 (0xBE, 0x1A, 0xC2, 0x7E)"


class Command(BaseCommand):
    help = "Create demo users, organisations and cases (idempotent; refused when DEBUG is off)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("seed_demo creates users with a known password: it runs only with DEBUG on.")
        password = os.environ.get("DEMO_PASSWORD", "portal-demo")
        with transaction.atomic():
            users = self._users(password)
        if not Case.objects.filter(title=REFERENCE_TITLE).exists():
            self._cases(users)
        self.stdout.write(
            self.style.SUCCESS(f"Demo data ready. Sign in at {site_url(reverse('accounts:login'))}")
        )
        for name in ("engineer", "manager", "tam", "alice", "bob"):
            self.stdout.write(f"  {name:<9} password: {password}   ({users[name].get_role_display()})")

    def _users(self, password: str) -> dict[str, User]:
        contoso, _ = Organisation.objects.get_or_create(
            slug="contoso", defaults={"name": "Contoso Manufacturing"}
        )
        fabrikam, _ = Organisation.objects.get_or_create(
            slug="fabrikam", defaults={"name": "Fabrikam Finance"}
        )
        specs = [
            ("engineer", User.Role.ENGINEER, None, "Wei", "Zhang", "zh-hans"),
            ("manager", User.Role.MANAGER, None, "Maria", "Garcia", "en"),
            ("tam", User.Role.ACCOUNT_MANAGER, None, "Tom", "Ashford", "en"),
            ("alice", User.Role.CUSTOMER, contoso, "Alice", "Li", "zh-hans"),
            ("bob", User.Role.CUSTOMER, fabrikam, "Bob", "Smith", "en"),
        ]
        users: dict[str, User] = {}
        for username, role, organisation, first, last, language in specs:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "role": role,
                    "organisation": organisation,
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@example.com",
                    "language": language,
                },
            )
            user.set_password(password)
            user.save()
            users[username] = user
        contoso.account_managers.add(users["tam"])
        fabrikam.account_managers.add(users["tam"])
        return users

    def _cases(self, users: dict[str, User]) -> None:
        self._reference_case(users)
        self._contoso_scoping(users)
        self._fabrikam_cases(users)

    def _reference_case(self, users: dict[str, User]) -> None:
        """The reference case (seed/case-CAS-08433.txt): opened by the TAM, scoped, accepted, a dump sent."""
        engineer, contoso = users["engineer"], _organisation(users["alice"])
        reference = services.case_create(
            actor=users["tam"],
            organisation=contoso,
            title=REFERENCE_TITLE,
            description="客户多台 Windows 10 终端出现蓝屏，错误代码包括 0xBE、0x1A、0xC2、0x7E。请协助分析原因。",
            severity=Severity.HIGH,
            product="Windows 10 / Kernel",
            external_reference="TAM-2023-0310",
            customer_contact=users["alice"],
            owner=engineer,
        )
        services.scope_save(
            actor=engineer,
            case=reference,
            problem_definition="终端在使用过程中出现蓝屏 (bug check 0xBE 等)，需要确定原因。",
            scope="本案例在以下情况关闭：问题解决；确认为设计行为；确认为第三方责任。多个问题将拆分为多个案例。",
            next_steps="请收集 C:\\Windows\\Minidump 下的转储文件、C:\\Windows\\MEMORY.DMP 以及系统事件日志 (System.evtx)，并上传到本案例。",
        )
        services.case_transition(actor=engineer, case=reference, name="send_scope")
        conversation.scope_acknowledge(actor=users["alice"], case=reference, accepted=True)
        # The customer's upload: the debugger output of the reference crash. The worker started by
        # `make run` analyses it, so the case opens with its crash and findings.
        upload_store_bytes(
            actor=users["alice"],
            case=reference,
            filename="031023-01-analyze.txt",
            data=(DEMO_DIR / "reference-0xBE-analyze.txt").read_bytes(),
        )

    def _contoso_scoping(self, users: dict[str, User]) -> None:
        engineer = users["engineer"]
        scoping = services.case_create(
            actor=engineer,
            organisation=_organisation(users["alice"]),
            title="Outlook add-in crashes after update",
            severity=Severity.MEDIUM,
            customer_contact=users["alice"],
            owner=engineer,
        )
        services.timeline_add(
            actor=engineer, case=scoping, body="Asked the customer for the WER report.", internal=True
        )

    def _fabrikam_cases(self, users: dict[str, User]) -> None:
        """One case under investigation and one closed, for the review queue."""
        engineer, manager = users["engineer"], users["manager"]
        fabrikam = _organisation(users["bob"])
        investigating = services.case_create(
            actor=manager,
            organisation=fabrikam,
            title="Server reboots unexpectedly at night",
            severity=Severity.CRITICAL,
            customer_contact=users["bob"],
            owner=engineer,
        )
        services.scope_save(
            actor=engineer,
            case=investigating,
            problem_definition="The file server restarts without a blue screen around 02:00.",
            scope="Closed when the cause is found and fixed, or shown to be outside our product.",
            next_steps="Upload the System event log and C:\\Windows\\MEMORY.DMP.",
        )
        services.case_transition(actor=engineer, case=investigating, name="send_scope")
        services.case_transition(actor=engineer, case=investigating, name="start_investigation")

        closed = services.case_create(
            actor=manager,
            organisation=fabrikam,
            title="VPN client blue screen 0xD1 on laptops",
            severity=Severity.HIGH,
            customer_contact=users["bob"],
            owner=engineer,
        )
        services.case_close(
            actor=engineer,
            case=closed,
            problem_description="Laptops showed DRIVER_IRQL_NOT_LESS_OR_EQUAL (0xD1) after connecting to the VPN.",
            analysis="All six dumps fault in the VPN client's filter driver; no other common module.",
            resolution="Vendor update 5.2.1 installed; no crash for two weeks, confirmed by phone.",
            resolution_type=ResolutionType.THIRD_PARTY,
        )


def _organisation(customer: User) -> Organisation:
    """The organisation of a customer made by ``_users`` (every customer there has one)."""
    assert customer.organisation is not None
    return customer.organisation
