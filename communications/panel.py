"""The communications panel of the case page (documents sent, e-mails, the evidence checklist), read for
one viewer; the case page's view passes it to its template."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils import translation
from django_stubs_ext import StrOrPromise

from accounts.capabilities import can_see_internal, can_work_cases
from accounts.models import User
from cases.models import Case
from communications import selectors
from communications.documents import document_language
from communications.forms import EvidenceForm
from communications.models import DocumentKind, EmailDelivery, SentDocument

LANGUAGE_NAMES = {"en": "English", "zh-hans": "简体中文"}


@dataclass(frozen=True)
class CommunicationsPanel:
    is_worker: bool
    can_send_summary: bool
    documents: list[SentDocument]
    checklist: list[selectors.EvidenceStatus]
    evidence_form: EvidenceForm | None
    deliveries: list[EmailDelivery]
    failed_deliveries: list[EmailDelivery]
    contact_language: str
    document_kinds: Sequence[tuple[str, StrOrPromise]]
    language: str


def communications_panel_for(
    *, user: User, case: Case, checklist: list[selectors.EvidenceStatus] | None = None
) -> CommunicationsPanel:
    """What the communications panel shows to ``user``; ``checklist`` is the evidence checklist when the
    page has already read it."""
    is_worker = can_work_cases(user)
    deliveries = selectors.deliveries_for_case(case=case) if can_see_internal(user) else []
    return CommunicationsPanel(
        is_worker=is_worker and case.is_open,
        can_send_summary=is_worker,
        documents=list(selectors.documents_for_case(case=case)[:20]),
        checklist=selectors.evidence_checklist(case=case) if checklist is None else checklist,
        evidence_form=EvidenceForm() if is_worker and case.is_open else None,
        deliveries=deliveries,
        failed_deliveries=[d for d in deliveries if d.state == EmailDelivery.State.FAILED],
        contact_language=LANGUAGE_NAMES[document_language(case=case)],
        document_kinds=list(DocumentKind.choices),
        language="zh-hans" if (translation.get_language() or "").startswith("zh") else "en",
    )
