"""What the portal tells people: documents sent to customers, e-mails with their delivery state, unread
notifications, each user's notification preferences, and the evidence a case's scope asks for."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cases.models import AuditEvent, Case, ScopeVersion, TimelineEntry
from communications.evidence import PRESETS
from uploads.models import Upload


class DocumentKind(models.TextChoices):
    SCOPE = "scope", _("Scope message")
    FINDINGS = "findings", _("Findings message")
    SUMMARY = "summary", _("Closing summary")


class NotificationKind(models.TextChoices):
    """What a notification is about; users turn each kind off per channel."""

    ASSIGNED = "assigned", _("Case assigned or reassigned")
    MESSAGE = "message", _("New message on a case")
    UPLOAD = "upload", _("New upload")
    ANALYSIS = "analysis", _("Analysis done")
    SCOPE_ANSWER = "scope_answer", _("Scope accepted or objected")
    CLOSED = "closed", _("Case closed or reopened")
    DOCUMENT = "document", _("Scope, findings or summary sent")
    REQUEST = "request", _("Information or files requested")
    RESOLUTION = "resolution", _("Resolution proposed or answered")
    ACTIVITY = "activity", _("Other activity on my cases")


class SentDocument(models.Model):
    """A scope, findings or summary message as it was sent (after the engineer's edits)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(_("document"), max_length=10, choices=DocumentKind.choices)
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    subject = models.CharField(_("subject"), max_length=250)
    body = models.TextField(_("text"))
    scope_version = models.ForeignKey(
        ScopeVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    timeline_entry = models.OneToOneField(
        TimelineEntry, on_delete=models.SET_NULL, null=True, blank=True, related_name="document"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    sent_at = models.DateTimeField(_("sent"), auto_now_add=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        indexes = [models.Index(fields=["case", "-sent_at"])]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} ({self.language})"


class EmailDelivery(models.Model):
    """One e-mail to one person, kept with its state so a failed one shows on the case."""

    class State(models.TextChoices):
        PENDING = "pending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Not delivered")

    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, null=True, blank=True, related_name="email_deliveries"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    to = models.EmailField(_("to"))
    subject = models.CharField(_("subject"), max_length=250)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    event = models.ForeignKey(
        AuditEvent, on_delete=models.CASCADE, null=True, blank=True, related_name="email_deliveries"
    )
    document = models.ForeignKey(
        SentDocument, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Threading and replies (inbound/): our Message-ID (without brackets), the recipient's own reply
    # address (Reply-To), and for an automatic answer to a received message, that message's Message-ID.
    message_id = models.CharField(max_length=250, blank=True, db_index=True)
    reply_to = models.CharField(max_length=254, blank=True)
    in_reply_to = models.CharField(max_length=250, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A redelivered notification task finds the row it made the first time instead of a second one.
            models.UniqueConstraint(
                fields=["event", "to"], condition=Q(event__isnull=False), name="email_once_per_event"
            )
        ]
        indexes = [models.Index(fields=["case", "state"])]

    def __str__(self) -> str:
        return f"{self.to}: {self.subject} ({self.state})"


class Notification(models.Model):
    """The portal's unread marker: one row per person and case event."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(AuditEvent, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "event"], name="notification_once_per_event")
        ]
        indexes = [
            models.Index(fields=["recipient"], condition=Q(read_at__isnull=True), name="notification_unread")
        ]

    def __str__(self) -> str:
        return f"{self.recipient_id} {self.kind} {self.case_id}"


class NotificationPreference(models.Model):
    """A kind a user changed; no row means both channels on."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    email = models.BooleanField(_("e-mail"), default=True)
    portal = models.BooleanField(_("in the portal"), default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="notification_pref_once")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: email={self.email} portal={self.portal}"


class EvidenceItem(models.Model):
    """A file the engineer needs from the customer: how to collect it, and the upload type that fulfils it."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="evidence_items")
    position = models.PositiveSmallIntegerField(default=0)
    # A ready-made request (communications.evidence.PRESETS) is shown in the reader's language.
    preset = models.CharField(max_length=30, blank=True)
    label = models.CharField(_("file needed"), max_length=200)
    instructions = models.TextField(_("how to collect it"), blank=True)
    kind = models.CharField(_("upload type"), max_length=12, choices=[c for c in Upload.Kind.choices if c[0]])
    # Optional shell-style pattern on the file name (e.g. MEMORY*.DMP) for two requests of one type.
    filename_pattern = models.CharField(_("file name pattern"), max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.label}"

    def label_in(self, language: str) -> str:
        preset = PRESETS.get(self.preset)
        return preset.label.get(language, self.label) if preset else self.label

    def instructions_in(self, language: str) -> str:
        preset = PRESETS.get(self.preset)
        return preset.instructions.get(language, self.instructions) if preset else self.instructions
