from django.contrib import admin

from analysis.models import AnalysisJob, Crash, Finding


@admin.register(AnalysisJob)
class AnalysisJobAdmin(admin.ModelAdmin[AnalysisJob]):
    list_display = ["id", "upload", "state", "attempts", "queued_at", "started_at", "finished_at", "worker"]
    list_filter = ["state", "engine_version"]
    search_fields = ["upload__filename", "upload__case__number", "worker"]
    raw_id_fields = ["upload", "requested_by"]
    readonly_fields = [field.name for field in AnalysisJob._meta.fields]


@admin.register(Crash)
class CrashAdmin(admin.ModelAdmin[Crash]):
    list_display = ["id", "case", "code", "name", "crash_time", "culprit_module", "signature_module"]
    search_fields = ["case__number", "code", "name", "culprit_module", "signature_module"]
    raw_id_fields = ["job", "upload", "case"]


@admin.register(Finding)
class FindingAdmin(admin.ModelAdmin[Finding]):
    list_display = ["id", "case", "upload", "severity", "code", "title"]
    list_filter = ["severity", "code"]
    search_fields = ["case__number", "code", "title"]
    raw_id_fields = ["case", "upload", "job", "crashes"]
