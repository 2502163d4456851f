"""Analysis jobs and what they found: crashes, event-log events and findings (per upload and per case).

Rows of one upload are replaced as a whole by the job that analysed it (``analysis.services.job_complete``);
uniqueness on ``(upload, index)`` makes a duplicate run fail loudly instead of doubling the rows.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cases.models import Case
from uploads.models import Upload


class AnalysisJob(models.Model):
    """One run of the parsers on one stored upload; the newest job of an upload is its current state."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    ACTIVE_STATES = (State.QUEUED, State.RUNNING)

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="analysis_jobs")
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    # Deliveries started; a file that kills its worker is stopped after settings.ANALYSIS_MAX_ATTEMPTS.
    attempts = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField(_("queued"))
    # Last time the task message was published (by the on-commit hook or the reconciler).
    published_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # Per-job hard time limit in seconds (scaled to the file size): the reconciler's lease on running jobs.
    time_limit = models.PositiveIntegerField(default=0)
    # A running job belongs to the message that claimed it until its lease (hard limit + margin) runs out:
    # a redelivery of that same message (worker lost) may take it over, a duplicate message may not.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(_("worker"), max_length=200, blank=True)
    error = models.TextField(_("error"), blank=True)
    engine_version = models.CharField(_("engine version"), max_length=20, blank=True)
    detected_kind = models.CharField(_("detected type"), max_length=20, blank=True)
    requested_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-queued_at", "-id"]
        indexes = [models.Index(fields=["state", "queued_at"], name="analysis_job_state_queued")]
        constraints = [
            # One live job per upload: a re-run while one is pending reuses it instead of racing it.
            models.UniqueConstraint(
                fields=["upload"],
                condition=Q(state__in=["queued", "running"]),
                name="analysis_one_active_job",
            )
        ]

    def __str__(self) -> str:
        return f"job {self.pk} ({self.state}) for {self.upload_id}"

    @property
    def is_pending(self) -> bool:
        return self.state in self.ACTIVE_STATES


class Crash(models.Model):
    """One bug check, user-mode exception or kernel oops found in an upload."""

    job = models.ForeignKey(AnalysisJob, on_delete=models.SET_NULL, null=True, related_name="crashes")
    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="crashes")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="crashes")
    index = models.PositiveIntegerField(help_text=_("Position in the file's parse result."))
    crash_time = models.DateTimeField(_("time"), null=True, blank=True)
    code = models.CharField(_("code"), max_length=20, blank=True, help_text=_("Bug check or exception code."))
    name = models.CharField(_("name"), max_length=200, blank=True)
    parameters = models.JSONField(default=list, blank=True)
    exception_code = models.CharField(max_length=20, blank=True)
    exception_name = models.CharField(max_length=200, blank=True)
    exception_address = models.CharField(max_length=40, blank=True)
    title = models.CharField(max_length=300, blank=True, help_text=_("Linux oops headline."))
    os_build = models.CharField(max_length=40, blank=True)
    architecture = models.CharField(max_length=20, blank=True)
    process_name = models.CharField(_("process"), max_length=200, blank=True)
    culprit_module = models.CharField(_("culprit"), max_length=200, blank=True)
    culprit_reason = models.TextField(blank=True)
    stack = models.JSONField(default=list, blank=True)
    modules = models.JSONField(default=list, blank=True)
    third_party_drivers = models.JSONField(default=list, blank=True)
    signature_coarse = models.CharField(max_length=100, blank=True, db_index=True)
    signature_module = models.CharField(max_length=300, blank=True, db_index=True)
    signature_frames = models.CharField(max_length=500, blank=True, db_index=True)
    raw = models.JSONField(default=dict, help_text=_("The crash as the command line JSON contract gives it."))

    class Meta:
        ordering = ["crash_time", "upload_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["upload", "index"], name="analysis_crash_unique_index")
        ]
        indexes = [models.Index(fields=["case", "crash_time"], name="analysis_crash_case_time")]

    def __str__(self) -> str:
        return f"{self.code or self.exception_code or self.title} in {self.upload_id}"


class CrashDriver(models.Model):
    """A third-party driver loaded at a crash: one row each so "seen in N other cases" is one aggregate."""

    crash = models.ForeignKey(Crash, on_delete=models.CASCADE, related_name="drivers")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200, help_text=_("Lower-case base name."))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["crash", "name"], name="analysis_crashdriver_unique")]
        indexes = [models.Index(fields=["name", "case"], name="analysis_crashdriver_name")]

    def __str__(self) -> str:
        return self.name


class LogEvent(models.Model):
    """An event-log record that matters (unexpected shutdown, memory diagnostic...), for the case rules."""

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="log_events")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="log_events")
    index = models.PositiveIntegerField()
    event_id = models.PositiveIntegerField()
    provider = models.CharField(max_length=200, blank=True)
    time = models.CharField(max_length=40, blank=True)
    kind = models.CharField(max_length=40, blank=True)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["upload_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["upload", "index"], name="analysis_event_unique_index")
        ]

    def __str__(self) -> str:
        return f"event {self.event_id} ({self.kind})"


class Finding(models.Model):
    """A conclusion with its recommendation: per upload (``upload`` set) or case-wide (``upload`` null)."""

    class Severity(models.TextChoices):
        CRITICAL = "critical", _("Critical")
        HIGH = "high", _("High")
        MEDIUM = "medium", _("Medium")
        LOW = "low", _("Low")
        INFO = "info", _("Info")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="findings")
    upload = models.ForeignKey(
        Upload, on_delete=models.CASCADE, null=True, blank=True, related_name="findings"
    )
    job = models.ForeignKey(AnalysisJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    seq = models.PositiveIntegerField(default=0)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    code = models.CharField(_("code"), max_length=80)
    title = models.CharField(_("title"), max_length=300)
    detail = models.TextField(_("detail"), blank=True)
    recommendation = models.TextField(_("recommendation"), blank=True)
    confidence = models.CharField(max_length=10, blank=True)
    title_zh = models.CharField(max_length=300, blank=True)
    detail_zh = models.TextField(blank=True)
    recommendation_zh = models.TextField(blank=True)
    crashes = models.ManyToManyField(Crash, blank=True, related_name="findings", verbose_name=_("evidence"))
    # Evidence that is not a crash row, and each crash's file and fact: [{"file": ..., "fact": ...}].
    facts = models.JSONField(default=list, blank=True)
    # Catalogue actions (analysis/rules/actions.py) a findings message merges across findings.
    actions = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["seq"]
        constraints = [
            models.UniqueConstraint(
                fields=["upload", "seq"],
                condition=Q(upload__isnull=False),
                name="analysis_finding_upload_seq",
            ),
            models.UniqueConstraint(
                fields=["case", "seq"], condition=Q(upload__isnull=True), name="analysis_finding_case_seq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.severity}: {self.title}"


class CaseMark(models.Model):
    """A third-party driver or a module signature present in a case's crashes: one row per case and key,
    kept by ``analysis.cross_case`` when the case's findings are recomputed."""

    class Kind(models.TextChoices):
        DRIVER = "driver", _("Driver")
        SIGNATURE = "signature", _("Signature")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    key = models.CharField(max_length=300)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "key", "case"], name="analysis_casemark_unique")
        ]
        indexes = [models.Index(fields=["case"], name="analysis_casemark_case")]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} {self.key}"


class MarkCount(models.Model):
    """How many cases have a driver or signature: "seen in N other cases" read in one indexed query,
    never counted per view (a driver such as an antivirus filter is in thousands of cases)."""

    kind = models.CharField(max_length=10, choices=CaseMark.Kind.choices)
    key = models.CharField(max_length=300)
    cases = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="analysis_markcount_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}: {self.cases}"
