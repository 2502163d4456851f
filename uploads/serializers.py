"""API shapes of uploads (DESIGN.md field names are a contract: more may be added, none renamed).

The analysis side extends :class:`UploadSerializer` with the job state."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from accounts.models import User
from cases.models import Case
from uploads.models import STORED_STATES, Upload


class UploadSerializer(serializers.ModelSerializer[Upload]):
    uploaded_by = serializers.SlugRelatedField[User](slug_field="username", read_only=True)
    case = serializers.SlugRelatedField[Case](slug_field="number", read_only=True)
    # Named like DRF's own Field.parent (the enclosing serializer), which it shadows on this class only.
    parent = serializers.PrimaryKeyRelatedField[Upload](read_only=True)  # type: ignore[assignment]
    # The first upload of the case with the same bytes; its analysis stands for this one.
    duplicate_of = serializers.PrimaryKeyRelatedField[Upload](read_only=True)
    withdrawn_by = serializers.SlugRelatedField[User](slug_field="username", read_only=True)
    archive_path = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Upload
        fields = [
            "id",
            "filename",
            "size",
            "sha256",
            "state",
            "kind",
            "uploaded_by",
            "created_at",
            "completed_at",
            "case",
            "offset",
            "parent",
            "archive_path",
            "rejection_reason",
            "scan",
            "expires_at",
            "content_deleted_at",
            "download_url",
            "duplicate_of",
            "withdrawn_at",
            "withdrawn_by",
            "withdrawal_reason",
        ]
        read_only_fields = fields

    def get_archive_path(self, upload: Upload) -> str | None:
        path = upload.metadata.get("archive_path")
        return str(path) if path is not None else None

    def get_download_url(self, upload: Upload) -> str | None:
        if upload.state not in STORED_STATES or not upload.storage_name or upload.content_deleted_at:
            return None
        if upload.scan in (Upload.Scan.PENDING, Upload.Scan.INFECTED):
            return None
        return reverse("api:upload_download", args=[upload.pk])
