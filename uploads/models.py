"""Uploaded files of a case: tus uploads in progress, stored files and archive members."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from cases.models import Case


class Upload(models.Model):
    class State(models.TextChoices):
        RECEIVING = "receiving", _("Receiving")
        STORED = "stored", _("Stored")
        REJECTED = "rejected", _("Rejected")
        ANALYSED = "analysed", _("Analysed")
        FAILED = "failed", _("Failed")

    class Kind(models.TextChoices):
        """Detected by content, never by name (analysis.parsers.detect.detect_upload_type)."""

        UNKNOWN = "", _("Not detected yet")
        KERNEL_DUMP = "kernel_dump", _("Kernel crash dump")
        USER_DUMP = "user_dump", _("User-mode minidump")
        EVTX = "evtx", _("Windows event log")
        TEXT_LOG = "text_log", _("Text log")
        ARCHIVE = "archive", _("Archive")
        OTHER = "other", _("Other")

    class Scan(models.TextChoices):
        """Virus scan outcome (uploads.scanning); blank when scanning is off."""

        OFF = "", _("Not scanned (scanning off)")
        PENDING = "pending", _("Held for virus scan")
        CLEAN = "clean", _("No virus found")
        INFECTED = "infected", _("Quarantined: virus found")
        NOT_SCANNED = "not_scanned", _("Not scanned: too large for the scanner")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="uploads")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="uploads"
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="members",
        help_text=_("Archive"),
    )
    filename = models.CharField(_("file name"), max_length=255)
    size = models.BigIntegerField(_("size"), help_text=_("Declared length in bytes (Upload-Length)."))
    offset = models.BigIntegerField(default=0, help_text=_("Bytes received and synced to disk."))
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.RECEIVING)
    kind = models.CharField(_("type"), max_length=12, choices=Kind.choices, default=Kind.UNKNOWN, blank=True)
    # The parser kind found with ``kind`` when the file was stored (analysis.parsers.detect), so the
    # analysis reads it as that without detecting it again; blank on files stored before it was kept.
    detected_kind = models.CharField(max_length=20, blank=True)
    storage_name = models.CharField(max_length=500, blank=True, help_text=_("Name in the uploads storage."))
    # Object storage: the S3 multipart upload that holds the parts received so far, and their size.
    multipart_id = models.CharField(max_length=1024, blank=True)
    part_size = models.BigIntegerField(default=0)
    rejection_reason = models.TextField(blank=True)
    scan = models.CharField(
        _("virus scan"), max_length=12, choices=Scan.choices, default=Scan.OFF, blank=True
    )
    scan_detail = models.CharField(max_length=300, blank=True, help_text=_("The scanner's answer."))
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text=_("Partial uploads are removed after this.")
    )
    content_deleted_at = models.DateTimeField(
        null=True, blank=True, help_text=_("Retention removed the file; the record stays.")
    )
    # The first stored upload of the case with the same SHA-256 and size: this one is not analysed again.
    duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="duplicates",
        verbose_name=_("same file as"),
    )
    # Withdrawn by its uploader or deleted by staff: the file and its analysis are gone, the record stays.
    withdrawn_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    withdrawal_reason = models.TextField(_("reason for deleting"), blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["case", "-created_at"]),
            models.Index(fields=["state", "expires_at"]),
            models.Index(fields=["case", "sha256"], name="uploads_upload_case_sha256"),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.case_id})"

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn_at is not None


# States whose file is complete and in the uploads storage.
STORED_STATES = frozenset(
    {Upload.State.STORED, Upload.State.ANALYSED, Upload.State.FAILED, Upload.State.REJECTED}
)
