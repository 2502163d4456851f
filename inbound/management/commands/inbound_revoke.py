"""``manage.py inbound_revoke CASE USERNAME``: revoke a person's reply and note addresses on a case (a
leaked address); mail to the old ones goes to the staff queue, their next e-mails carry new ones."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from cases.models import Case
from inbound.services import reply_address_revoke


class Command(BaseCommand):
    help = "Revoke a person's reply addresses on a case and print the new one."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("case", help="case number, e.g. CAS-08433-X3V6G7")
        parser.add_argument("username")

    def handle(self, *args: Any, case: str, username: str, **options: Any) -> None:
        found = Case.objects.filter(number=case.upper()).first()
        user = User.objects.filter(username=username).first()
        if found is None or user is None:
            raise CommandError(f"No case {case!r}" if found is None else f"No user {username!r}")
        new = reply_address_revoke(actor=None, case=found, user=user)
        self.stdout.write(f"Revoked. {username}'s reply address on {found.number} is now {new}")
