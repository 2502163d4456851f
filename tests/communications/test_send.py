"""Sending a document: one timeline entry, its record, and after the commit the e-mails of its event: the
document itself to the customer contacts, never an internal note."""

from __future__ import annotations

import re

import pytest

from cases import services as case_services
from cases.errors import InvalidInput, NotAllowed
from cases.models import State, TimelineEntry
from communications import services
from communications.documents import document_draft
from communications.models import EmailDelivery, SentDocument
from communications.tasks import notify_case_event
from tests.communications.conftest import INTERNAL_NOTE

pytestmark = pytest.mark.django_db


def _send(case, engineer, kind, language="en", edit=lambda body: body):
    draft = document_draft(case=case, kind=kind, language=language, author=engineer)
    body = edit(draft.body)
    return services.document_send(
        actor=engineer, case=case, kind=kind, language=language, subject=draft.subject, body=body
    )


def _deliver(document) -> int:
    """Run the notification task the send queued after its commit, as a worker would."""
    document.refresh_from_db()
    return notify_case_event(document.timeline_entry.event_id)


def _fill(body: str) -> str:

    return re.sub(r"\[\[.*?\]\]", "Filled in by the engineer.", body, flags=re.S)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("kind", ["scope", "findings", "summary"])
def test_sent_document_reaches_the_customer_by_email_without_internal_notes(
    reference_case, engineer, customer, mailoutbox, django_capture_on_commit_callbacks, kind, language
):
    with django_capture_on_commit_callbacks() as callbacks:
        document = _send(reference_case, engineer, kind, language, edit=_fill)
    assert callbacks, "the e-mail is queued after the commit"
    assert _deliver(document) == 1
    assert EmailDelivery.objects.get(document=document).to == customer.email
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [customer.email]
    assert reference_case.number in mail.subject
    html = mail.alternatives[0][0]
    for text in (mail.subject, mail.body, html):
        assert "INTERNAL-ONLY" not in text and "4711" not in text
    assert "SfUemIsoSpace.sys" in mail.body or kind == "scope"
    assert document.timeline_entry.internal is False
    assert document.timeline_entry.kind == TimelineEntry.Kind.MESSAGE
    assert INTERNAL_NOTE not in document.timeline_entry.body


def test_engineers_edit_is_what_is_sent(reference_case, engineer, mailoutbox):
    document = _send(
        reference_case,
        engineer,
        "findings",
        edit=lambda body: body.replace("Kind regards,", "Please run mdsched tonight.\n\nKind regards,"),
    )
    _deliver(document)
    assert "Please run mdsched tonight." in mailoutbox[0].body
    assert "Please run mdsched tonight." in mailoutbox[0].alternatives[0][0]
    assert "Please run mdsched tonight." in document.timeline_entry.body


def test_document_with_placeholders_is_refused(scoped_case, engineer):
    with pytest.raises(InvalidInput):
        _send(scoped_case, engineer, "findings")  # no findings: the draft asks the engineer to write
    assert not SentDocument.objects.exists()


def test_customers_and_account_managers_cannot_send(reference_case, customer, account_manager):
    for actor in (customer, account_manager):
        with pytest.raises(NotAllowed):
            services.document_send(
                actor=actor, case=reference_case, kind="findings", language="en", subject="s", body="b"
            )


def test_sending_the_scope_of_a_new_case_sends_the_scope(case, engineer, customer):

    case_services.scope_save(
        actor=engineer,
        case=case,
        problem_definition="Blue screens.",
        scope="One problem.",
        next_steps="Upload.",
    )
    _send(case, engineer, "scope")
    case.refresh_from_db()
    assert case.state == State.AWAITING_CUSTOMER
    assert case.scoped_at is not None and case.first_response_at is not None


def test_a_sent_document_reaches_the_customer_and_the_account_manager_once_each(
    reference_case, engineer, customer, account_manager, mailoutbox
):
    document = _send(reference_case, engineer, "findings")
    assert _deliver(document) == 2
    assert _deliver(document) == 0  # a redelivered task message sends nothing twice
    assert sorted(m.to[0] for m in mailoutbox) == sorted([customer.email, account_manager.email])
    # The account manager reads the document itself, not only that something was sent.
    assert all(document.subject == m.subject and "SfUemIsoSpace.sys" in m.body for m in mailoutbox)


def test_a_sent_document_is_one_timeline_entry_rendered_as_sent(reference_case, engineer, customer, client):
    document = _send(reference_case, engineer, "findings")
    client.force_login(customer)
    html = client.get(f"/cases/{reference_case.number}/").content.decode()
    assert html.count(f'id="entry-{document.timeline_entry_id}"') == 1
    assert TimelineEntry.objects.filter(case=reference_case, body__contains="SfUemIsoSpace.sys").count() == 1
    # Rendered: a table and headings, not the text form's markup.
    assert '<table class="doc-table">' in html and "| Time |" not in html and "=====" not in html
