"""Who may do what: one predicate per capability, used by pages, the API, services, selectors and
templates alike (templates read them as ``can.<name>``, ``accounts.context_processors.capabilities``).

Each predicate takes any user, signed in or not, and answers False for an anonymous or deactivated one.
Which case a person may see is the visibility queryset's question (``cases.selectors``), not these.

| capability | customer | engineer | manager | account manager | superuser |
|---|---|---|---|---|---|
| ``see_internal`` (internal notes, draft scopes, findings, the case's audit, e-mails sent) | | yes | yes | yes | yes |
| ``act_for_vendor`` (write internal notes, delete files with a reason), ``invite_contacts`` | | yes | yes | yes | yes |
| ``open_cases`` | | yes | yes | yes (their organisations) | |
| ``work_cases`` (move, assign, close; re-run analyses; the mail queue; delete any upload) | | yes | yes | | yes |
| ``review``, ``see_reports``, ``see_audit_trail``, ``manage_service_levels`` | | | yes | | yes |
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser

from accounts.models import User

AnyUser = User | AnonymousUser

_WORKERS = frozenset({User.Role.ENGINEER, User.Role.MANAGER})
_STAFF = _WORKERS | {User.Role.ACCOUNT_MANAGER}
_MANAGERS = frozenset({User.Role.MANAGER})


def _active(user: AnyUser) -> bool:
    return bool(user.is_authenticated and user.is_active)


def _role_in(user: AnyUser, roles: frozenset[str], *, superuser: bool = True) -> bool:
    if not _active(user):
        return False
    assert isinstance(user, User)
    return (superuser and user.is_superuser) or user.role in roles


# -- the vendor's side of a case ---------------------------------------------------------------------------


def can_see_internal(user: AnyUser) -> bool:
    """Staff (engineers, managers, account managers) and superusers: internal notes, draft scopes,
    findings and crashes, the case's audit events, the e-mails sent, the original of a mailed reply."""
    return _role_in(user, _STAFF)


def can_act_for_vendor(user: AnyUser) -> bool:
    """Staff and superusers speak for the support team: they write internal notes (also by mail), and a
    file they remove is deleted with a reason kept on record rather than withdrawn."""
    return _role_in(user, _STAFF)


def can_invite_contacts(user: AnyUser) -> bool:
    """Invite customer contacts to the cases they see, and revoke the invitations."""
    return _role_in(user, _STAFF)


def can_open_cases(user: AnyUser) -> bool:
    """Engineers and managers for any organisation, account managers for those they look after."""
    return _role_in(user, _STAFF, superuser=False)


def can_work_cases(user: AnyUser) -> bool:
    """Engineers, managers and superusers run cases: move, assign, split and close them, own them."""
    return _role_in(user, _WORKERS)


def can_rerun_analysis(user: AnyUser) -> bool:
    return can_work_cases(user)


def can_manage_mail_queue(user: AnyUser) -> bool:
    """The mail held for staff at ``/mail/``: read it, file it on a case, refuse it."""
    return can_work_cases(user)


def can_delete_any_upload(user: AnyUser) -> bool:
    """Delete a file someone else uploaded (with a reason); everyone may withdraw their own."""
    return can_work_cases(user)


# -- managers ----------------------------------------------------------------------------------------------


def can_review(user: AnyUser) -> bool:
    """Approve or return closing summaries (``/review/``)."""
    return _role_in(user, _MANAGERS)


def can_see_reports(user: AnyUser) -> bool:
    return _role_in(user, _MANAGERS)


def can_see_audit_trail(user: AnyUser) -> bool:
    """The whole audit trail (``/audit/``) and its CSV; a case's own events are ``can_see_internal``."""
    return _role_in(user, _MANAGERS)


def can_manage_service_levels(user: AnyUser) -> bool:
    return _role_in(user, _MANAGERS)


CAPABILITIES = {
    "see_internal": can_see_internal,
    "act_for_vendor": can_act_for_vendor,
    "invite_contacts": can_invite_contacts,
    "open_cases": can_open_cases,
    "work_cases": can_work_cases,
    "rerun_analysis": can_rerun_analysis,
    "manage_mail_queue": can_manage_mail_queue,
    "delete_any_upload": can_delete_any_upload,
    "review": can_review,
    "see_reports": can_see_reports,
    "see_audit_trail": can_see_audit_trail,
    "manage_service_levels": can_manage_service_levels,
}


class Capabilities:
    """A user's answers, each computed when a template first asks (``{% if can.review %}``)."""

    def __init__(self, user: AnyUser) -> None:
        self._user = user
        self._answers: dict[str, bool] = {}

    def __getattr__(self, name: str) -> bool:
        if name.startswith("_") or name not in CAPABILITIES:
            raise AttributeError(name)
        if name not in self._answers:
            self._answers[name] = CAPABILITIES[name](self._user)
        return self._answers[name]
