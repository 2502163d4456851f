"""Customer invitations: an engineer invites a contact by e-mail for a case; the contact chooses their own
password (or signs in to an existing account). No account is ever created with a password staff chose.

Only a SHA-256 of the token is stored, so a database leak does not leak working links.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.capabilities import can_invite_contacts
from accounts.models import Invitation, User
from cases.audit import AuditAction, audit_record
from cases.errors import DomainError, InvalidInput, NotAllowed
from cases.models import Case
from cases.selectors import case_visible_to
from config.links import site_url


class InvitationUnusable(DomainError):
    """Unknown, expired, revoked or already used."""

    status_code = 410


@dataclass(frozen=True)
class InvitationSent:
    invitation: Invitation
    url: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _require_staff_on(actor: User, case: Case) -> None:
    if not can_invite_contacts(actor):
        raise NotAllowed(_("Only support staff can invite customer contacts."))
    if not case_visible_to(user=actor, case_id=case.pk):
        raise NotAllowed(_("You cannot act on this case."))


def invitation_create(*, actor: User, case: Case, email: str) -> InvitationSent:
    """Invite ``email`` to the case's organisation; the link is e-mailed after the commit and expires
    after settings.INVITATION_VALID_DAYS."""
    _require_staff_on(actor, case)
    if not case.is_open:
        raise InvalidInput(_("The case is closed."))
    email = User.objects.normalize_email(email.strip())
    if not email or "@" not in email:
        raise InvalidInput(_("Enter the contact's e-mail address."))
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        invitation = Invitation.objects.create(
            organisation=case.organisation,
            case=case,
            email=email,
            token_hash=_hash(token),
            invited_by=actor,
            expires_at=now + timedelta(days=settings.INVITATION_VALID_DAYS),
        )
        audit_record(
            case=case,
            actor=actor,
            action=AuditAction.INVITATION_SENT,
            data={"email": email, "invitation": invitation.pk},
        )
        url = site_url(reverse("accounts:invitation_accept", args=[token]))
        subject = _("[%(number)s] You are invited to the support portal") % {"number": case.number}
        body = _(
            "%(actor)s invites you to case %(number)s (%(title)s) for %(organisation)s.\n\n"
            "Open this link to choose your own password, or to sign in with your existing account:\n"
            "%(url)s\n\nThe link works once and expires on %(expires)s."
        ) % {
            "actor": actor,
            "number": case.number,
            "title": case.title,
            "organisation": case.organisation.name,
            "url": url,
            "expires": invitation.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        }
        transaction.on_commit(lambda: send_mail(subject, body, None, [email]))
    return InvitationSent(invitation=invitation, url=url)


def invitation_revoke(*, actor: User, invitation: Invitation) -> Invitation:
    """Make an unused invitation's link stop working."""
    _require_staff_on(actor, invitation.case)
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if locked.accepted_at is not None:
            raise InvalidInput(_("This invitation was already accepted."))
        if locked.revoked_at is None:
            locked.revoked_at = timezone.now()
            locked.revoked_by = actor
            locked.save(update_fields=["revoked_at", "revoked_by"])
            audit_record(
                case=locked.case,
                actor=actor,
                action=AuditAction.INVITATION_REVOKED,
                data={"email": locked.email},
            )
    return locked


def invitation_get_by_token(*, token: str, for_update: bool = False) -> Invitation:
    """The usable invitation behind a link, or InvitationUnusable saying why not."""
    invitations = Invitation.objects.select_related("case", "organisation")
    if for_update:
        invitations = invitations.select_for_update(of=("self",))
    invitation = invitations.filter(token_hash=_hash(token)).first()
    if invitation is None:
        raise InvitationUnusable(_("This invitation link is not valid. Ask your engineer for a new one."))
    if invitation.revoked_at is not None:
        raise InvitationUnusable(_("This invitation was withdrawn. Ask your engineer for a new one."))
    if invitation.accepted_at is not None:
        raise InvitationUnusable(_("This invitation was already used. Sign in with the account it created."))
    if invitation.expires_at <= timezone.now():
        raise InvitationUnusable(_("This invitation has expired. Ask your engineer for a new one."))
    return invitation


def _accepted(invitation: Invitation, user: User) -> None:
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    case = invitation.case
    if case.customer_contact_id is None:
        case.customer_contact = user
        case.save(update_fields=["customer_contact", "updated_at"])
    audit_record(
        case=case, actor=user, action=AuditAction.INVITATION_ACCEPTED, data={"email": invitation.email}
    )


def invitation_accept_new_account(
    *, token: str, username: str, password: str, first_name: str = "", last_name: str = ""
) -> User:
    """Create the invitee's customer account with the password they chose, and use up the link."""
    with transaction.atomic():
        invitation = invitation_get_by_token(token=token, for_update=True)
        username = username.strip()
        if not username:
            raise InvalidInput(_("Choose a user name."))
        try:
            # The model field's own rules (Django's UnicodeUsernameValidator, 150 characters): letters,
            # digits and @ . + - _ only, so a name is never markup or a spreadsheet formula.
            User._meta.get_field("username").clean(username, None)
        except ValidationError as error:
            raise InvalidInput(" ".join(error.messages)) from None
        if User.objects.filter(username__iexact=username).exists():
            raise InvalidInput(_("This user name is taken; choose another, or sign in if it is yours."))
        user = User(
            username=username,
            email=invitation.email,
            first_name=first_name.strip(),
            last_name=last_name.strip(),
            role=User.Role.CUSTOMER,
            organisation=invitation.organisation,
        )
        try:
            validate_password(password, user=user)
        except ValidationError as error:
            raise InvalidInput(" ".join(error.messages)) from None
        user.set_password(password)
        user.save()
        _accepted(invitation, user)
    return user


def invitation_accept_existing(*, token: str, user: User) -> User:
    """Attach an existing customer account of the same organisation to the invitation's case."""
    with transaction.atomic():
        invitation = invitation_get_by_token(token=token, for_update=True)
        if not user.is_active or not user.is_customer or user.organisation_id != invitation.organisation_id:
            raise NotAllowed(
                _(
                    "This invitation is for a contact of %(organisation)s; sign out and create your own account."
                )
                % {"organisation": invitation.organisation.name}
            )
        _accepted(invitation, user)
    return user


def invitation_list_for_case(*, case: Case) -> QuerySet[Invitation]:
    return case.invitations.select_related("invited_by", "accepted_by")
