"""Every route x every role, generated from the URL configuration: a new route without a rule fails.

Expected answers: a status code, or "login" for a redirect to the sign-in page. Another organisation's
customer always gets 404 on case routes, never 403 (nothing leaks that the case exists).
"""

from __future__ import annotations

import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.invitations import invitation_create
from accounts.models import Invitation
from cases.models import TimelineEntry
from communications.models import EvidenceItem, Notification, SentDocument
from inbound.models import InboundMessage
from oversight.models import BusinessCalendar, ServiceTarget
from tests.oversight.conftest import ensure_service_level_defaults
from uploads.files import upload_storage
from uploads.models import Upload

ROLES = ("anonymous", "customer", "other_customer", "engineer", "manager", "account_manager")
ANON_API = 401  # token authentication makes DRF answer 401 with a WWW-Authenticate header


def _all(status):
    return dict.fromkeys(ROLES, status)


def _case_page(customer, staff=200, other=404, tam=None):
    return {
        "anonymous": "login",
        "customer": customer,
        "other_customer": other,
        "engineer": staff,
        "manager": staff,
        "account_manager": staff if tam is None else tam,
    }


def _case_api(customer, staff=200, tam=None, anonymous=ANON_API):
    return {
        "anonymous": anonymous,
        "customer": customer,
        "other_customer": 404,
        "engineer": staff,
        "manager": staff,
        "account_manager": staff if tam is None else tam,
    }


_MANAGERS = {**_all(403), "anonymous": "login", "manager": 200}


def _default_target_pk(case):

    ensure_service_level_defaults()  # a transactional test may have flushed the seeded rows
    return ServiceTarget.objects.filter(organisation__isnull=True).values_list("pk", flat=True).first()


def _default_calendar_pk(case):

    ensure_service_level_defaults()
    return BusinessCalendar.objects.filter(organisation__isnull=True).values_list("pk", flat=True).first()


def _sent_document(case):

    return SentDocument.objects.create(case=case, kind="findings", language="en", subject="s", body="b").pk


def _evidence_item(case):

    return EvidenceItem.objects.create(case=case, label="System log", kind="evtx").pk


def _queued_mail(case):

    raw = b"From: x@unknown.example\r\nSubject: hi\r\nMessage-ID: <m@unknown.example>\r\n\r\nhello"
    return InboundMessage.objects.create(
        dedupe_key=uuid.uuid4().hex,
        via="smtp",
        size=len(raw),
        sha256="0" * 64,
        storage_name=upload_storage().save("mail/matrix.eml", ContentFile(raw)),
        state="queued",
        reason="unknown_sender",
        from_address="x@unknown.example",
        subject="hi",
    ).pk


def _mail_entry(case):

    entry = TimelineEntry.objects.create(
        case=case, kind="message", body="by mail", author=case.customer_contact, via="email"
    )
    InboundMessage.objects.filter(pk=_queued_mail(case)).update(
        state="posted", case=case, timeline_entry=entry
    )
    return entry.pk


def _engineers_notification(case):

    return Notification.objects.create(
        recipient=case.owner, case=case, event=case.audit_events.first(), kind="activity"
    ).pk


def _stored_upload(case):
    """A stored upload of the case with real bytes in the uploads storage."""

    upload = Upload.objects.filter(case=case).first()
    if upload is None:
        name = storages["uploads"].save(f"{case.number}/matrix.txt", ContentFile(b"kd> k\n"))
        upload = Upload.objects.create(
            case=case,
            filename="matrix.txt",
            size=6,
            offset=6,
            state="stored",
            kind="text_log",
            storage_name=name,
        )
    return upload.pk


def _receiving_upload(case):

    return Upload.objects.create(case=case, filename="partial.dmp", size=100, state="receiving").pk


def _pending_invitation(case):

    invitation = Invitation.objects.filter(case=case, revoked_at__isnull=True).first()
    if invitation is None:
        invitation = invitation_create(
            actor=case.owner, case=case, email="new.contact@example.com"
        ).invitation
    return invitation.pk


TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}
TUS_CREATE = {**TUS, "HTTP_UPLOAD_LENGTH": "10", "HTTP_UPLOAD_METADATA": "filename bWF0cml4LnR4dA=="}

# url name -> (method, url kwargs, body (its "headers" go to the request's META), expected per role)
RULES: dict[str, tuple[str, dict, dict, dict]] = {
    "home": ("get", {}, {}, {**_all(302), "anonymous": "login"}),
    "healthz": ("get", {}, {}, _all(200)),
    # Without METRICS_TOKEN (or an allowed address) nobody scrapes, whatever their role.
    "metrics": ("get", {}, {}, _all(403)),
    "accounts:login": ("get", {}, {}, _all(200)),
    "accounts:sso_choose": ("get", {}, {}, _all(200)),
    "accounts:sso_login": ("get", {"slug": "no-such-provider"}, {}, _all(404)),
    "accounts:sso_callback": ("get", {"slug": "no-such-provider"}, {}, _all(404)),
    "accounts:logout": ("post", {}, {}, _all("login")),
    "accounts:password_change": ("get", {}, {}, {**_all(200), "anonymous": "login"}),
    "accounts:password_change_done": ("get", {}, {}, {**_all(200), "anonymous": "login"}),
    "accounts:language": ("post", {}, {"language": "en"}, _all(302)),
    "accounts:profile": ("get", {}, {}, {**_all(200), "anonymous": "login"}),
    "accounts:tokens": ("get", {}, {}, {**_all(200), "anonymous": "login"}),
    "accounts:token_create": ("post", {}, {}, {**_all(302), "anonymous": "login"}),
    "accounts:token_revoke": ("post", {}, {}, {**_all(302), "anonymous": "login"}),
    "accounts:two_factor_setup": (
        "get",
        {},
        {},
        {**_all(200), "anonymous": "login", "customer": 302, "other_customer": 302},
    ),
    "accounts:two_factor_verify": ("get", {}, {}, {**_all(200), "anonymous": "login"}),
    "api:token": ("post", {}, {}, _all(400)),
    "api:schema": ("get", {}, {}, _all(200)),  # the schema is public: it describes paths, holds no data
    "api:docs": ("get", {}, {}, _all(200)),
    "api:case-list": ("get", {}, {}, {**_all(200), "anonymous": ANON_API}),
    "api:case-detail": ("get", {"number": "CASE"}, {}, _case_api(200)),
    "api:case-timeline": ("get", {"number": "CASE"}, {}, _case_api(200)),
    "api:case-scope": ("get", {"number": "CASE"}, {}, _case_api(200)),
    "api:case-scope-answer": ("post", {"number": "CASE"}, {"accepted": True}, _case_api(201, staff=403)),
    "api:case-summary": ("get", {"number": "CASE"}, {}, _case_api(200)),
    # No proposal is waiting on the scoped case: the customer gets 400 with the reason, staff 403.
    "api:case-resolution-answer": (
        "post",
        {"number": "CASE"},
        {"accepted": True},
        _case_api(400, staff=403),
    ),
    "api:notification-list": ("get", {}, {}, {**_all(200), "anonymous": ANON_API}),
    "api:case-audit": ("get", {"number": "CASE"}, {}, _case_api(403)),
    "api:case-action": (
        "post",
        {"number": "CASE", "action": "start_investigation"},
        {},
        _case_api(403, staff=200, tam=403),
    ),
    "communications:document": ("get", {"number": "CASE", "kind": "findings"}, {}, _case_page(403, tam=403)),
    "communications:document_send": (
        "post",
        {"number": "CASE", "kind": "findings"},
        {},
        _case_page(403, staff=400, tam=403),
    ),
    "communications:document_read": (
        "get",
        {"number": "CASE", "document_id": lambda case: _sent_document(case)},
        {},
        _case_page(200),
    ),
    "communications:evidence_add": ("post", {"number": "CASE"}, {}, _case_page(403, staff=302, tam=403)),
    "communications:evidence_remove": (
        "post",
        {"number": "CASE", "item_id": lambda case: _evidence_item(case)},
        {},
        _case_page(403, staff=302, tam=403),
    ),
    "communications:notifications": ("get", {}, {}, {**_all(200), "anonymous": "login"}),
    "communications:notifications_read": ("post", {}, {}, {**_all(302), "anonymous": "login"}),
    "communications:notification_open": (
        "post",
        {"notification_id": lambda case: _engineers_notification(case)},
        {},
        {**_all(404), "anonymous": "login", "engineer": 302},
    ),
    "communications:preferences": ("get", {}, {}, {**_all(200), "anonymous": "login"}),
    "cases:list": ("get", {}, {}, {**_all(200), "anonymous": "login"}),
    "cases:new": ("get", {}, {}, {**_all(200), "anonymous": "login", "customer": 403, "other_customer": 403}),
    "cases:detail": ("get", {"number": "CASE"}, {}, _case_page(200)),
    "cases:scope": ("post", {"number": "CASE"}, {}, _case_page(302, staff=302)),
    "cases:scope_answer": ("post", {"number": "CASE"}, {}, _case_page(302, staff=302)),
    # No proposal is waiting: the customer is told so on the page, staff are refused there.
    "cases:resolution_answer": ("post", {"number": "CASE"}, {}, _case_page(302, staff=302)),
    # Customers are refused with a message on the page; staff follow.
    "cases:follow": ("post", {"number": "CASE"}, {"follow": "1"}, _case_page(302, staff=302)),
    "cases:version": ("get", {"number": "CASE"}, {}, _case_page(200)),
    "cases:message": ("post", {"number": "CASE"}, {}, _case_page(302, staff=302)),
    "cases:assign": ("post", {"number": "CASE"}, {}, _case_page(302, staff=302)),
    "cases:split": ("post", {"number": "CASE"}, {}, _case_page(302, staff=302)),
    "cases:close": ("get", {"number": "CASE"}, {}, _case_page(403)),
    "cases:action": (
        "post",
        {"number": "CASE", "action": "start_investigation"},
        {},
        _case_page(302, staff=302),
    ),
    "oversight:review": ("get", {}, {}, _MANAGERS),
    "oversight:review_export": ("get", {}, {}, _MANAGERS),
    # The scoped case has no summary yet: staff reach the check and get 404, customers are refused first.
    "oversight:review_decide": ("post", {"number": "CASE"}, {}, {**_MANAGERS, "manager": 404}),
    "oversight:summary_pdf": ("get", {"number": "CASE"}, {}, _case_page(403, staff=404)),
    "oversight:summary_rewrite": ("post", {"number": "CASE"}, {}, _case_page(302, staff=302)),
    "oversight:reports": ("get", {}, {}, _MANAGERS),
    "oversight:audit": ("get", {}, {}, _MANAGERS),
    "oversight:audit_export": ("get", {}, {}, _MANAGERS),
    "oversight:service_levels": ("get", {}, {}, _MANAGERS),
    "oversight:target_new": ("get", {}, {}, _MANAGERS),
    "oversight:target_edit": ("get", {"pk": _default_target_pk}, {}, _MANAGERS),
    "oversight:calendar_new": ("get", {}, {}, _MANAGERS),
    "oversight:calendar_edit": ("get", {"pk": _default_calendar_pk}, {}, _MANAGERS),
    "uploads:page": ("get", {"number": "CASE"}, {}, _case_page(200)),
    "uploads:download": ("get", {"upload_id": _stored_upload}, {}, _case_page(200)),
    # Refused with a message on the upload page: someone else's file (customers, account managers), no
    # reason given (engineers, managers). Another organisation's customer gets 404.
    "uploads:withdraw": ("post", {"upload_id": _stored_upload}, {}, _case_page(302, staff=302)),
    "api:upload_list": ("get", {"number": "CASE"}, {}, _case_api(200)),
    "api:upload_detail": ("get", {"id": _stored_upload}, {}, _case_api(200)),
    "api:upload_download": ("get", {"id": _stored_upload}, {}, _case_api(200)),
    "api:upload_tus": ("post", {"number": "CASE"}, {"headers": TUS_CREATE}, _case_api(201, staff=201)),
    "api:upload_tus_noslash": (
        "post",
        {"number": "CASE"},
        {"headers": TUS_CREATE},
        _case_api(201, staff=201),
    ),
    "api:upload_tus_detail": (
        "head",
        {"number": "CASE", "upload_id": _receiving_upload},
        {"headers": TUS},
        _case_api(200),
    ),
    "api:case_findings": ("get", {"number": "CASE"}, {}, _case_api(403)),
    "analysis:status": ("get", {"number": "CASE"}, {}, _case_page(200)),
    "analysis:panel": ("get", {"number": "CASE"}, {}, _case_page(200)),
    "analysis:rerun": (
        "post",
        {"number": "CASE", "upload_id": _stored_upload},
        {},
        _case_page(403, staff=302, tam=403),
    ),
    "accounts:invitation_new": ("get", {"number": "CASE"}, {}, _case_page(403)),
    # A customer's revoke is refused with a message on the page it came from.
    "accounts:invitation_revoke": ("post", {"pk": _pending_invitation}, {}, _case_page(302, staff=302)),
    # An unknown, used, expired or withdrawn link: 410 with a page that says so.
    "accounts:invitation_accept": ("get", {"token": "not-a-real-token"}, {}, _all(410)),
    # Mail in: the queue is for engineers and managers (403 for the rest); a message 404s for anyone else.
    "inbound:queue": ("get", {}, {}, {**_all(403), "anonymous": "login", "engineer": 200, "manager": 200}),
    "inbound:detail": ("get", {"message_id": _queued_mail}, {}, _case_page(404, tam=404)),
    "inbound:original": ("get", {"message_id": _queued_mail}, {}, _case_page(404, tam=404)),
    # An empty form: 400 with the form's errors.
    "inbound:attach": ("post", {"message_id": _queued_mail}, {}, _case_page(404, staff=400, tam=404)),
    "inbound:open_case": ("post", {"message_id": _queued_mail}, {}, _case_page(404, staff=400, tam=404)),
    # The engineer discards it; for the manager after them it is already handled (400, with the message).
    "inbound:discard": (
        "post",
        {"message_id": _queued_mail},
        {},
        {**_case_page(404, tam=404), "engineer": 302, "manager": 400},
    ),
    # The original of a timeline entry written from an e-mail: staff who see the case.
    "inbound:entry_original": ("get", {"entry_id": _mail_entry}, {}, _case_page(404)),
}


def _named_routes(patterns=None, namespace=""):
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _named_routes(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern):
            yield f"{namespace}{pattern.name}" if pattern.name else f"{namespace}<unnamed {pattern.pattern}>"


def test_every_route_has_a_rule():
    missing = sorted(set(_named_routes()) - set(RULES))
    assert missing == [], f"routes without an authorisation rule: {missing}"


@pytest.fixture
def people(customer, other_customer, engineer, manager, account_manager):
    return {
        "anonymous": None,
        "customer": customer,
        "other_customer": other_customer,
        "engineer": engineer,
        "manager": manager,
        "account_manager": account_manager,
    }


@pytest.mark.parametrize("name", sorted(RULES))
def test_route_answers_each_role_as_expected(name, people, scoped_case, client):

    method, kwargs, body, expected = RULES[name]
    body = dict(body)
    headers = body.pop("headers", {})
    kwargs = {key: scoped_case.number if value == "CASE" else value for key, value in kwargs.items()}
    kwargs = {key: value(scoped_case) if callable(value) else value for key, value in kwargs.items()}
    url = reverse(name, kwargs=kwargs)
    answers = {}
    for role, user in people.items():
        # Some actions change the case: each role starts from the same scoped case.
        scoped_case.refresh_from_db()
        if scoped_case.state != "awaiting_customer":
            scoped_case.state = "awaiting_customer"
            scoped_case.save(update_fields=["state"])
        client.logout()
        if user is not None:
            client.force_login(user)
        if name.startswith("api:") and method not in {"get", "head"}:
            response = getattr(client, method)(url, body, content_type="application/json", **headers)
        else:
            response = getattr(client, method)(url, body, **headers)
        got = response.status_code
        if got == 302 and response["Location"].startswith("/accounts/login/"):
            got = "login"
        answers[role] = got
    assert answers == expected, f"{name} {url}"
