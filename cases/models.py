"""Cases, their versioned scope, timeline, audit trail and closing summary (DESIGN.md)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Organisation


class State(models.TextChoices):
    NEW = "new", _("New")
    SCOPING = "scoping", _("Scoping")
    AWAITING_CUSTOMER = "awaiting_customer", _("Awaiting customer")
    INVESTIGATING = "investigating", _("Investigating")
    PENDING_CONFIRMATION = "pending_confirmation", _("Pending confirmation")
    CLOSED = "closed", _("Closed")


OPEN_STATES = frozenset(state for state in State.values if state != State.CLOSED)


class Severity(models.TextChoices):
    CRITICAL = "critical", _("Critical")
    HIGH = "high", _("High")
    MEDIUM = "medium", _("Medium")
    LOW = "low", _("Low")


class ResolutionType(models.TextChoices):
    RESOLVED = "resolved", _("Resolved")
    BY_DESIGN = "by_design", _("By design")
    THIRD_PARTY = "third_party", _("Third party")
    SPLIT = "split", _("Split into other cases")
    NO_RESPONSE = "no_response", _("No response")
    DUPLICATE = "duplicate", _("Duplicate")


class CaseNumberCounter(models.Model):
    """One row per prefix; locked while a number is taken so concurrent creations never collide."""

    prefix = models.CharField(max_length=8, primary_key=True)
    value = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.prefix}: {self.value}"


def _choice_label(choices: type[models.TextChoices], value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:  # a value no longer among the choices shows as stored
        return value


class Case(models.Model):
    number = models.CharField(_("number"), max_length=20, unique=True, editable=False)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="cases")
    customer_contact = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="contact_cases",
        verbose_name=_("customer contact"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_cases",
        verbose_name=_("owner"),
    )
    severity = models.CharField(
        _("severity"), max_length=10, choices=Severity.choices, default=Severity.MEDIUM
    )
    product = models.CharField(_("product / area"), max_length=120, blank=True)
    external_reference = models.CharField(_("external reference"), max_length=120, blank=True)
    state = models.CharField(_("state"), max_length=24, choices=State.choices, default=State.NEW)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("split from"),
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    opened_at = models.DateTimeField(_("opened"), auto_now_add=True)
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    scoped_at = models.DateTimeField(_("scoped"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # People told about the case besides its owner and customer contact: staff who chose to follow it, and
    # customers who took part (a message, an upload, an answer, an accepted invitation).
    followers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="followed_cases", verbose_name=_("followers")
    )
    # Raised by every write that changes what the case page shows; open pages poll it (cases.live).
    live_version = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [
            # The case lists' order: without it every page sorts the whole table (measured in bench/load).
            models.Index(fields=["-opened_at", "-id"], name="cases_case_opened"),
            models.Index(fields=["state", "-opened_at"]),
            models.Index(fields=["organisation", "-opened_at"]),
            models.Index(fields=["owner", "-opened_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    # Django's generated get_FOO_display hashes every choice's lazy label on each call (a gettext per
    # choice): the case list calls these 50 times a page, so look the one label up instead. (The type
    # checker's Django plugin declares the generated methods, hence the redefinitions it reports.)
    def get_state_display(self) -> str:  # type: ignore[no-redef]
        return _choice_label(State, self.state)

    def get_severity_display(self) -> str:  # type: ignore[no-redef]
        return _choice_label(Severity, self.severity)

    @property
    def is_open(self) -> bool:
        return self.state != State.CLOSED


class ScopeVersion(models.Model):
    """The engineer's scope as sent to the customer; every edit is a new version."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="scope_versions")
    version = models.PositiveIntegerField()
    problem_definition = models.TextField(_("problem definition"))
    scope = models.TextField(_("scope and closure criteria"))
    next_steps = models.TextField(_("next steps"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # A version is the engineer's draft until it is sent; customers never read a draft.
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [models.UniqueConstraint(fields=["case", "version"], name="unique_scope_version")]

    def __str__(self) -> str:
        return f"{self.case.number} scope v{self.version}"


class ScopeAcknowledgement(models.Model):
    class Decision(models.TextChoices):
        ACCEPTED = "accepted", _("Accepted")
        OBJECTED = "objected", _("Objected")

    scope_version = models.ForeignKey(ScopeVersion, on_delete=models.CASCADE, related_name="acknowledgements")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    comment = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.decision} of scope {self.scope_version_id}"


class TimelineEntry(models.Model):
    class Kind(models.TextChoices):
        NOTE = "note", _("Internal note")
        MESSAGE = "message", _("Message")
        SYSTEM = "system", _("Event")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    internal = models.BooleanField(default=False)
    body = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # The lifecycle event this entry records (a scope answer, a proposal, a reopening): its headline is
    # written from the event in the reader's language, the body is the person's own words.
    event = models.OneToOneField(
        "AuditEvent", on_delete=models.SET_NULL, null=True, blank=True, related_name="timeline_entry"
    )
    # "email": written as a reply by e-mail (inbound/); the page says so and staff open the original.
    via = models.CharField(max_length=10, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["case", "created_at"])]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} {self.created_at:%Y-%m-%d %H:%M}"


class CaseSummary(models.Model):
    """The closing summary; a new version each time it is rewritten (history kept)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="summaries")
    version = models.PositiveIntegerField()
    problem_description = models.TextField(_("problem description"))
    analysis = models.TextField(_("analysis"))
    resolution = models.TextField(_("resolution"))
    resolution_type = models.CharField(_("resolution type"), max_length=20, choices=ResolutionType.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [models.UniqueConstraint(fields=["case", "version"], name="unique_summary_version")]

    def __str__(self) -> str:
        return f"{self.case_id} summary v{self.version}"


class ResolutionProposal(models.Model):
    """The engineer's proposed resolution, which the customer confirms or rejects (with a comment).

    Unanswered for ``RESOLUTION_RESPONSE_DAYS`` business days, the case closes as ``no_response``."""

    class Answer(models.TextChoices):
        ACCEPTED = "accepted", _("Confirmed")
        REJECTED = "rejected", _("Rejected")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="resolution_proposals")
    text = models.TextField(_("proposed resolution"))
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    proposed_at = models.DateTimeField(auto_now_add=True)
    answer = models.CharField(_("answer"), max_length=10, choices=Answer.choices, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    # The engineer took the case back (resume investigation) before any answer came.
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-proposed_at", "-id"]
        indexes = [
            models.Index(
                fields=["proposed_at"],
                condition=models.Q(answer="", withdrawn_at__isnull=True),
                name="resolution_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.case_id} proposal {self.proposed_at:%Y-%m-%d}"

    @property
    def pending(self) -> bool:
        return not self.answer and self.withdrawn_at is None


class AuditEvent(models.Model):
    """Who did what, when, to which case, and from which state. Written by services only."""

    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, null=True, blank=True, related_name="audit_events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=40)
    from_state = models.CharField(max_length=24, blank=True)
    to_state = models.CharField(max_length=24, blank=True)
    customer_visible = models.BooleanField(default=False)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_id} at {self.created_at:%Y-%m-%d %H:%M}"


class CaseSearchDocument(models.Model):
    """What search reads of a case, one row per audience: customers' rows hold only what a customer may
    read (no internal notes, draft scopes, findings or crashes). Rebuilt from the case's rows by
    ``cases.search_index``; on PostgreSQL a trigger keeps ``vector`` in step with the texts."""

    class Audience(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        STAFF = "staff", _("Staff")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="search_documents")
    audience = models.CharField(max_length=10, choices=Audience.choices)
    # Number, title, organisation, crash codes, drivers and signatures: ranked above the rest.
    head = models.TextField(blank=True)
    # Everything readable, head first: substring (trigram) matches and highlights come from it.
    text = models.TextField(blank=True)
    # Exact tokens a parser would split or miss: canonical bug check codes ("0xbe") and Chinese bigrams,
    # space-separated with a space at each end.
    terms = models.TextField(blank=True)
    vector = SearchVectorField(null=True, editable=False)
    built_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "audience"], name="cases_search_document_unique")
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.audience}"


class CaseSearchQueue(models.Model):
    """Cases whose search documents are out of date: written by every case write (``case_touch``), emptied
    by the sweep. A row survives a crash between the write and the rebuild, so no change is ever missed."""

    case = models.OneToOneField(Case, on_delete=models.CASCADE, primary_key=True, related_name="+")
    touched_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.case_id} since {self.touched_at:%Y-%m-%d %H:%M:%S}"
