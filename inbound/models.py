"""Mail in: every message received (raw bytes kept in the uploads storage until well after it is handled),
what became of it, and the revocations of reply addresses."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cases.models import Case, TimelineEntry


class InboundMessage(models.Model):
    """One message as received by the listener or taken from the mailbox, and its outcome."""

    class State(models.TextChoices):
        RECEIVED = "received", _("Received, being read")
        POSTED = "posted", _("Posted on the case")
        CASE_OPENED = "case_opened", _("Opened a case")
        QUEUED = "queued", _("Waiting for staff")
        IGNORED = "ignored", _("Automatic mail: recorded only")
        REFUSED = "refused", _("Refused: too large")
        ATTACHED = "attached", _("Added to a case by staff")
        DISCARDED = "discarded", _("Discarded by staff")

    class Reason(models.TextChoices):
        NONE = "", _("None")
        UNKNOWN_SENDER = "unknown_sender", _("The sender is not a customer user of the portal")
        AMBIGUOUS_SENDER = "ambiguous_sender", _("Several users have the sender's address")
        STAFF_SENDER = "staff_sender", _("A member of staff wrote to the support address")
        UNAUTHENTICATED = "unauthenticated", _("The sender's address is not vouched for (SPF, DKIM, DMARC)")
        TOKEN_UNKNOWN = "token_unknown", _("Unknown reply address")
        TOKEN_EXPIRED = "token_expired", _("The reply address expired: its case is closed")
        TOKEN_REVOKED = "token_revoked", _("The reply address was revoked")
        SENDER_MISMATCH = (
            "sender_mismatch",
            _("The sender is neither the reply address's recipient nor a user of the case's organisation"),
        )
        CASE_CLOSED = "case_closed", _("The case is closed")
        NOT_ALLOWED = "not_allowed", _("The sender may not write on this case")
        EMPTY = "empty", _("No text and no files")
        UNREADABLE = "unreadable", _("The message could not be read")
        FAILED = "failed", _("Reading the message failed repeatedly")
        AUTOMATIC = "automatic", _("Automatic reply, bounce or mailing list")
        TOO_LARGE = "too_large", _("Too large")

    class Via(models.TextChoices):
        SMTP = "smtp", "SMTP"
        LMTP = "lmtp", "LMTP"
        IMAP = "imap", "IMAP"

    # The Message-ID's hash, or the bytes' hash when there is none: the same message delivered twice is
    # stored once.
    dedupe_key = models.CharField(max_length=80, unique=True)
    message_id = models.CharField(_("Message-ID"), max_length=250, blank=True, db_index=True)
    via = models.CharField(max_length=4, choices=Via.choices)
    envelope_from = models.CharField(max_length=254, blank=True)
    envelope_to = models.JSONField(default=list, blank=True)
    peer = models.CharField(max_length=100, blank=True)
    storage_name = models.CharField(max_length=300, blank=True)
    size = models.BigIntegerField(_("size"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    # Over INBOUND_MAX_MESSAGE_SIZE: only its headers are read, and the sender is told to use the upload page.
    too_large = models.BooleanField(default=False)
    received_at = models.DateTimeField(_("received"), auto_now_add=True, db_index=True)

    # Filled when the worker reads the message.
    from_name = models.CharField(_("from"), max_length=200, blank=True)
    from_address = models.CharField(_("from address"), max_length=254, blank=True, db_index=True)
    subject = models.CharField(_("subject"), max_length=500, blank=True)
    text = models.TextField(_("text"), blank=True)
    to_address = models.CharField(
        _("to"), max_length=254, blank=True, help_text=_("The portal address it was sent to.")
    )

    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.RECEIVED)
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices, blank=True)
    detail = models.TextField(_("detail"), blank=True)
    # One row per attached file: {"filename", "size", "outcome": stored|refused|skipped, "detail", "upload"}.
    attachments = models.JSONField(default=list, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # A worker reading the message holds it until then (inbound.services.LEASE).
    lease_until = models.DateTimeField(null=True, blank=True)

    case = models.ForeignKey(
        Case, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_messages"
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    timeline_entry = models.OneToOneField(
        TimelineEntry, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_message"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    content_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["state", "-received_at"], name="inbound_state_received"),
            models.Index(
                fields=["received_at"], condition=Q(state="received"), name="inbound_waiting_for_worker"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_address or self.envelope_from} {self.subject[:40]} ({self.state})"

    @property
    def needs_staff(self) -> bool:
        return self.state == self.State.QUEUED


class ReplyAddressRevocation(models.Model):
    """A person's reply addresses on one case were revoked ``generation`` times; the addresses of older
    generations are refused (the reply goes to staff) and new e-mails carry the new one."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    generation = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField(auto_now=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "user"], name="reply_revocation_once")]

    def __str__(self) -> str:
        return f"{self.case_id} {self.user_id} generation {self.generation}"
