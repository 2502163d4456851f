"""Reply addresses: one per person and case, signed, revocable, stable (the address a person's e-mails
carry is the one ``GET /api/cases/<number>/`` gives them).

``case+<case number>.<user id>.<kind><generation>.<signature>@INBOUND_DOMAIN``, lower case (mail servers
may fold the local part's case). ``kind`` is ``r`` (a reply: a message on the case) or ``n`` (staff's
note address: an internal note). The signature is an HMAC of the rest under SECRET_KEY (and its
fallbacks), so an address cannot be made up; revoking bumps the generation, so the old address is refused
and new e-mails carry the new one. Nothing is written to hand out an address.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts.models import User
from cases.models import Case
from cases.selectors import case_visible_to
from inbound.models import ReplyAddressRevocation

PREFIX = "case+"
REPLY, NOTE = "r", "n"
_SALT = "inbound.reply-address"
_LOCAL = re.compile(r"^case\+(?P<number>[a-z]{2,8}-\d{5}-[a-z0-9]{6})\.(?P<user>\d{1,12})\.(?P<kind>[rn])"
                    r"(?P<generation>\d{1,6})\.(?P<mac>[a-z2-7]{16})$")  # fmt: skip


def _mac(case_id: int, user_id: int, kind: str, generation: int, secret: str | None = None) -> str:
    digest = salted_hmac(
        _SALT, f"{case_id}:{user_id}:{kind}:{generation}", secret=secret, algorithm="sha256"
    ).digest()
    return base64.b32encode(digest[:10]).decode("ascii").lower()


def reply_generation(*, case_id: int, user_id: int) -> int:
    row = ReplyAddressRevocation.objects.filter(case_id=case_id, user_id=user_id).only("generation").first()
    return row.generation if row else 0


def reply_address_for(*, case: Case, user: User, kind: str = REPLY, generation: int | None = None) -> str:
    """The address this person writes to for this case ("" when mail in is off: no INBOUND_DOMAIN)."""
    domain = settings.INBOUND_DOMAIN
    if not domain or user.pk is None:
        return ""
    if generation is None:
        generation = reply_generation(case_id=case.pk, user_id=user.pk)
    mac = _mac(case.pk, user.pk, kind, generation)
    return f"{PREFIX}{case.number.lower()}.{user.pk}.{kind}{generation}.{mac}@{domain}"


def is_portal_address(address: str) -> bool:
    """Whether mail to this address is ours: a reply address or the support address."""
    local, _at, domain = address.lower().rpartition("@")
    if not settings.INBOUND_DOMAIN:
        return False
    if address.lower() == settings.INBOUND_SUPPORT_ADDRESS:
        return True
    return domain == settings.INBOUND_DOMAIN and local.startswith(PREFIX)


def reply_addresses_in(addresses: list[str]) -> list[str]:
    """The reply addresses among these, in order."""
    domain = settings.INBOUND_DOMAIN
    found = []
    for address in addresses:
        local, _at, at_domain = address.lower().rpartition("@")
        if domain and at_domain == domain and local.startswith(PREFIX) and address.lower() not in found:
            found.append(address.lower())
    return found


@dataclass(frozen=True)
class AddressCheck:
    """What a reply address says: ``outcome`` is "ok" or an ``InboundMessage.Reason`` value."""

    outcome: str
    case: Case | None = None
    user: User | None = None
    kind: str = REPLY


def reply_address_check(address: str) -> AddressCheck:
    """Read a reply address: unknown (malformed, forged, no such case or person), revoked (an older
    generation, or a person who can no longer see the case), expired (its case closed more than
    INBOUND_REPLY_EXPIRY_DAYS ago) or ok."""
    local = address.lower().rpartition("@")[0]
    match = _LOCAL.match(local)
    if match is None:
        return AddressCheck("token_unknown")
    case = Case.objects.filter(number=match["number"].upper()).select_related("organisation").first()
    user = User.objects.filter(pk=int(match["user"])).first()
    if case is None or user is None:
        return AddressCheck("token_unknown")
    kind, generation = match["kind"], int(match["generation"])
    secrets_to_try = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    if not any(
        constant_time_compare(match["mac"], _mac(case.pk, user.pk, kind, generation, secret))
        for secret in secrets_to_try
    ):
        return AddressCheck("token_unknown")
    current = reply_generation(case_id=case.pk, user_id=user.pk)
    if generation > current:
        return AddressCheck("token_unknown")
    if generation < current or not user.is_active or not case_visible_to(user=user, case_id=case.pk):
        return AddressCheck("token_revoked", case, user, kind)
    expiry = timedelta(days=settings.INBOUND_REPLY_EXPIRY_DAYS)
    if case.closed_at is not None and case.closed_at + expiry < timezone.now():
        return AddressCheck("token_expired", case, user, kind)
    return AddressCheck("ok", case, user, kind)


def mail_domain() -> str:
    """The domain of our Message-IDs: the inbound domain, else the site's host."""
    return settings.INBOUND_DOMAIN or urlsplit(settings.SITE_URL).hostname or "localhost"


def message_id_new() -> str:
    """A fresh Message-ID for an e-mail we send (without the angle brackets)."""
    return f"{timezone.now():%Y%m%d%H%M%S}.{secrets.token_hex(8)}@{mail_domain()}"


def thread_id(case: Case) -> str:
    """The Message-ID every e-mail of a case refers to, so mail clients show them as one conversation."""
    return f"case.{case.number.lower()}@{mail_domain()}"
