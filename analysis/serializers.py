"""API shapes of the analysis pipeline. Crashes are the command line JSON contract's objects (DESIGN.md)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from analysis.models import AnalysisJob, Crash, Finding
from uploads.models import Upload
from uploads.serializers import UploadSerializer


class AnalysisJobSerializer(serializers.ModelSerializer[AnalysisJob]):
    class Meta:
        model = AnalysisJob
        fields = [
            "id",
            "state",
            "attempts",
            "queued_at",
            "started_at",
            "finished_at",
            "worker",
            "error",
            "engine_version",
            "detected_kind",
        ]
        read_only_fields = fields


def upload_analysis(upload: Upload) -> dict[str, Any] | None:
    """The newest job of an upload as the API shows it; uses prefetched ``jobs`` when present. A copy of
    a file already in the case shows its original's job: that analysis stands for both."""
    if upload.duplicate_of_id is not None and upload.duplicate_of is not None:
        upload = upload.duplicate_of
    jobs = getattr(upload, "jobs", None)
    job = (
        (jobs[0] if jobs else None)
        if jobs is not None
        else upload.analysis_jobs.order_by("-queued_at", "-id").first()
    )
    return AnalysisJobSerializer(job).data if job else None


class UploadWithAnalysisSerializer(UploadSerializer):
    """``/api/uploads/<id>/`` with the job state added (the uploads side's fields unchanged)."""

    analysis = serializers.SerializerMethodField()

    class Meta(UploadSerializer.Meta):
        fields = [*UploadSerializer.Meta.fields, "analysis"]
        read_only_fields = fields

    def get_analysis(self, upload: Upload) -> dict[str, Any] | None:
        return upload_analysis(upload)


def crash_json(crash: Crash) -> dict[str, Any]:
    """The contract's crash object plus where it came from (id, upload, file, index)."""
    return {
        "id": crash.pk,
        "upload": str(crash.upload_id),
        "file": crash.upload.filename,
        "index": crash.index,
        **crash.raw,
    }


def finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "id": finding.pk,
        "scope": "upload" if finding.upload_id else "case",
        "upload": str(finding.upload_id) if finding.upload_id else None,
        "severity": finding.severity,
        "code": finding.code,
        "title": finding.title,
        "detail": finding.detail,
        "recommendation": finding.recommendation,
        "confidence": finding.confidence,
        "title_zh": finding.title_zh,
        "detail_zh": finding.detail_zh,
        "recommendation_zh": finding.recommendation_zh,
        "evidence": sorted(crash.pk for crash in finding.crashes.all()),
        "facts": list(finding.facts or []),
        "actions": list(finding.actions or []),
    }


class CaseFindingsSerializer(serializers.Serializer[None]):
    """Schema of ``/api/cases/<number>/findings/`` (built by the view from the selectors)."""

    case = serializers.CharField()
    uploads = serializers.ListField(child=serializers.DictField())
    crashes = serializers.ListField(child=serializers.DictField())
    findings = serializers.ListField(child=serializers.DictField())
