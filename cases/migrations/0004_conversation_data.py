"""Existing cases under the conversation's rules: what customers could already read stays readable.

- Scope versions: before, customers read every version; now only sent ones. Versions of cases past
  scoping, and versions a scope message was sent with, count as sent.
- Cases waiting on a proposed resolution get its record (from the ``propose_resolution`` audit event), so
  their customer can answer it.
- Customers who accepted an invitation to a case follow it.
"""

from django.db import migrations
from django.db.models import F

PAST_SCOPING = ["awaiting_customer", "investigating", "pending_confirmation", "closed"]


def forwards(apps, schema_editor):
    ScopeVersion = apps.get_model("cases", "ScopeVersion")
    Case = apps.get_model("cases", "Case")
    AuditEvent = apps.get_model("cases", "AuditEvent")
    ResolutionProposal = apps.get_model("cases", "ResolutionProposal")
    SentDocument = apps.get_model("communications", "SentDocument")
    Invitation = apps.get_model("accounts", "Invitation")

    ScopeVersion.objects.filter(sent_at__isnull=True, case__state__in=PAST_SCOPING).update(
        sent_at=F("created_at")
    )
    for document in SentDocument.objects.filter(kind="scope", scope_version__sent_at__isnull=True):
        ScopeVersion.objects.filter(pk=document.scope_version_id).update(sent_at=document.sent_at)

    for case in Case.objects.filter(state="pending_confirmation"):
        event = (
            AuditEvent.objects.filter(case=case, action="propose_resolution").order_by("-created_at").first()
        )
        if event is None or ResolutionProposal.objects.filter(case=case).exists():
            continue
        proposal = ResolutionProposal.objects.create(
            case=case, text=(event.data or {}).get("message", "") or "—", proposed_by_id=event.actor_id
        )
        # auto_now_add wrote today's date: keep the proposal's real age for the no-response rule.
        ResolutionProposal.objects.filter(pk=proposal.pk).update(proposed_at=event.created_at)

    for invitation in Invitation.objects.filter(accepted_by__isnull=False):
        Case.objects.get(pk=invitation.case_id).followers.add(invitation.accepted_by_id)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0003_conversation"),
        ("communications", "0001_initial"),
        ("accounts", "0002_invitation"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
