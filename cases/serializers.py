"""API shapes of cases (DESIGN.md field names are a contract: more may be added, none renamed)."""

from __future__ import annotations

from django.db.models import Model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Organisation, User
from cases.models import (
    AuditEvent,
    Case,
    CaseSummary,
    ResolutionProposal,
    ResolutionType,
    ScopeAcknowledgement,
    ScopeVersion,
    Severity,
    TimelineEntry,
)
from cases.search import search_highlight
from cases.selectors import case_resolution_proposal
from inbound.addresses import reply_address_for


class CaseListSerializer(serializers.ModelSerializer[Case]):
    organisation = serializers.SlugRelatedField[Organisation](slug_field="slug", read_only=True)
    owner = serializers.SlugRelatedField[User](slug_field="username", read_only=True, allow_null=True)
    search_highlight = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = [
            "number",
            "title",
            "state",
            "severity",
            "organisation",
            "owner",
            "opened_at",
            "closed_at",
            "search_highlight",
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_search_highlight(self, case: Case) -> str | None:
        """With ``?search=``: where the terms were found, an HTML-escaped excerpt with ``<mark>`` around
        each term (empty for a stemmed match); null without a search."""
        request = self.context.get("request")
        query = request.query_params.get("search", "") if request is not None else ""
        if not query.strip() or not hasattr(case, "search_text"):
            return None
        return str(search_highlight(case.search_text or "", query))


class ResolutionProposalSerializer(serializers.ModelSerializer[ResolutionProposal]):
    """The standing proposed resolution; ``answer`` is ``accepted``, ``rejected`` or null while pending."""

    answer = serializers.SerializerMethodField()

    class Meta:
        model = ResolutionProposal
        fields = ["text", "proposed_at", "answer", "answered_at", "comment"]

    @extend_schema_field(serializers.ChoiceField(choices=ResolutionProposal.Answer.choices, allow_null=True))
    def get_answer(self, proposal: ResolutionProposal) -> str | None:
        return proposal.answer or None


class ResolutionAnswerSerializer(serializers.Serializer[None]):
    accepted = serializers.BooleanField()
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class CaseDetailSerializer(CaseListSerializer):
    customer_contact = serializers.SlugRelatedField[User](
        slug_field="username", read_only=True, allow_null=True
    )
    # Named like DRF's own Field.parent (the enclosing serializer), which it shadows on this class only.
    parent = serializers.SlugRelatedField[Case](  # type: ignore[assignment]
        slug_field="number", read_only=True, allow_null=True
    )
    resolution_proposal = serializers.SerializerMethodField()
    reply_address = serializers.SerializerMethodField(
        help_text="The caller's own address for this case: mail to it is a message on the case "
        "(the Reply-To of the caller's notification e-mails); null when the portal takes no mail."
    )

    @extend_schema_field(serializers.EmailField(allow_null=True))
    def get_reply_address(self, case: Case) -> str | None:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return reply_address_for(case=case, user=user) or None

    @extend_schema_field(ResolutionProposalSerializer(allow_null=True))
    def get_resolution_proposal(self, case: Case) -> dict[str, object] | None:
        proposal = case_resolution_proposal(case=case)
        return ResolutionProposalSerializer(proposal).data if proposal is not None else None

    class Meta(CaseListSerializer.Meta):
        fields = [
            *CaseListSerializer.Meta.fields,
            "description",
            "product",
            "external_reference",
            "customer_contact",
            "parent",
            "first_response_at",
            "scoped_at",
            "updated_at",
            "resolution_proposal",
            "reply_address",
        ]


class CaseCreateSerializer(serializers.Serializer[None]):
    organisation = serializers.SlugRelatedField[Organisation](
        slug_field="slug", queryset=Organisation.objects.all()
    )
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    severity = serializers.ChoiceField(choices=Severity.choices, default=Severity.MEDIUM)
    product = serializers.CharField(required=False, allow_blank=True, default="", max_length=120)
    external_reference = serializers.CharField(required=False, allow_blank=True, default="", max_length=120)
    customer_contact = serializers.SlugRelatedField[User](
        slug_field="username",
        queryset=User.objects.filter(role=User.Role.CUSTOMER),
        required=False,
        allow_null=True,
    )
    owner = serializers.SlugRelatedField[User](
        slug_field="username",
        queryset=User.objects.filter(role__in=[User.Role.ENGINEER, User.Role.MANAGER]),
        required=False,
        allow_null=True,
    )


class CaseUpdateSerializer(serializers.Serializer[None]):
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    product = serializers.CharField(required=False, allow_blank=True, max_length=120)
    external_reference = serializers.CharField(required=False, allow_blank=True, max_length=120)


class TransitionSerializer(serializers.Serializer[None]):
    """Body of ``POST /api/cases/<number>/<transition>/``; which fields count depends on the action."""

    message = serializers.CharField(required=False, allow_blank=True, default="")
    owner = serializers.CharField(required=False, allow_blank=True, default="", help_text="assign: username")
    reason = serializers.CharField(required=False, allow_blank=True, default="", help_text="assign: reason")
    title = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="split: child title"
    )
    description = serializers.CharField(required=False, allow_blank=True, default="")
    problem_description = serializers.CharField(required=False, allow_blank=True, default="")
    analysis = serializers.CharField(required=False, allow_blank=True, default="")
    resolution = serializers.CharField(required=False, allow_blank=True, default="")
    resolution_type = serializers.ChoiceField(
        choices=ResolutionType.choices, required=False, allow_blank=True
    )


class TimelineEntrySerializer(serializers.ModelSerializer[TimelineEntry]):
    author = serializers.SlugRelatedField[User](slug_field="username", read_only=True)
    # Entries of lifecycle events may have no body; a posted message must have one.
    body = serializers.CharField()

    class Meta:
        model = TimelineEntry
        fields = ["id", "kind", "internal", "body", "author", "created_at"]
        read_only_fields = ["id", "kind", "author", "created_at"]


class ScopeAcknowledgementSerializer(serializers.ModelSerializer[ScopeAcknowledgement]):
    author = serializers.SlugRelatedField[User](slug_field="username", read_only=True)

    class Meta:
        model = ScopeAcknowledgement
        fields = ["decision", "comment", "author", "created_at"]


class ScopeVersionSerializer(serializers.ModelSerializer[ScopeVersion]):
    author = serializers.SlugRelatedField[User](slug_field="username", read_only=True)
    acknowledgements = ScopeAcknowledgementSerializer(many=True, read_only=True)

    class Meta:
        model = ScopeVersion
        fields = [
            "version",
            "problem_definition",
            "scope",
            "next_steps",
            "author",
            "created_at",
            "acknowledgements",
        ]
        read_only_fields = ["version", "author", "created_at", "acknowledgements"]


class ScopeAnswerSerializer(serializers.Serializer[None]):
    accepted = serializers.BooleanField()
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class CaseSummarySerializer(serializers.ModelSerializer[CaseSummary]):
    author = serializers.SlugRelatedField[User](slug_field="username", read_only=True)

    class Meta:
        model = CaseSummary
        fields = [
            "version",
            "problem_description",
            "analysis",
            "resolution",
            "resolution_type",
            "author",
            "created_at",
        ]


class TimelineEntryDetailSerializer(TimelineEntrySerializer):
    """A timeline entry as read back: a lifecycle event's ``event`` (its action) and a sent document's id."""

    event = serializers.SlugRelatedField[AuditEvent](slug_field="action", read_only=True, allow_null=True)
    # communications.SentDocument; cases does not import the app that builds on it.
    document = serializers.PrimaryKeyRelatedField[Model](read_only=True, allow_null=True)

    class Meta(TimelineEntrySerializer.Meta):
        fields = [*TimelineEntrySerializer.Meta.fields, "event", "document"]


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    actor = serializers.SlugRelatedField[User](slug_field="username", read_only=True)

    class Meta:
        model = AuditEvent
        fields = ["action", "actor", "from_state", "to_state", "data", "created_at"]
