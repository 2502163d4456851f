"""Thin API classes: authorise through selectors, call one service, shape the answer."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.capabilities import can_see_internal
from accounts.requests import AuthenticatedApiRequest, signed_in_user
from cases import conversation, selectors, services
from cases.models import Case
from cases.serializers import (
    AuditEventSerializer,
    CaseCreateSerializer,
    CaseDetailSerializer,
    CaseListSerializer,
    CaseSummarySerializer,
    CaseUpdateSerializer,
    ResolutionAnswerSerializer,
    ResolutionProposalSerializer,
    ScopeAnswerSerializer,
    ScopeVersionSerializer,
    TimelineEntryDetailSerializer,
    TimelineEntrySerializer,
    TransitionSerializer,
)


class CaseListCreateApi(ListAPIView[Case]):
    """``GET`` the cases you may see (filters: view, state, organisation, severity, search); ``POST`` one."""

    serializer_class = CaseListSerializer

    def get_queryset(self) -> QuerySet[Case]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Case.objects.none()
        params = self.request.query_params
        return selectors.case_list_for_user(
            user=signed_in_user(self.request),
            view=params.get("view", ""),
            state=params.get("state", ""),
            organisation=params.get("organisation", ""),
            severity=params.get("severity", ""),
            search=params.get("search", ""),
        )

    @extend_schema(request=CaseCreateSerializer, responses={201: CaseDetailSerializer})
    def post(self, request: AuthenticatedApiRequest) -> Response:
        serializer = CaseCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        case = services.case_create(actor=request.user, **serializer.validated_data)
        return Response(
            CaseDetailSerializer(case, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class CaseDetailApi(APIView):
    @extend_schema(responses=CaseDetailSerializer)
    def get(self, request: AuthenticatedApiRequest, number: str) -> Response:
        case = selectors.case_get_for_user(user=request.user, number=number)
        return Response(CaseDetailSerializer(case, context={"request": request}).data)

    @extend_schema(request=CaseUpdateSerializer, responses=CaseDetailSerializer)
    def patch(self, request: AuthenticatedApiRequest, number: str) -> Response:
        case = selectors.case_get_for_user(user=request.user, number=number)
        serializer = CaseUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        case = services.case_update(actor=request.user, case=case, **serializer.validated_data)
        return Response(CaseDetailSerializer(case, context={"request": request}).data)


class CaseActionApi(APIView):
    """``POST /api/cases/<number>/<action>/``: a lifecycle transition, ``assign``, ``split`` or ``close``."""

    @extend_schema(request=TransitionSerializer, responses=CaseDetailSerializer, operation_id="cases_action")
    def post(self, request: AuthenticatedApiRequest, number: str, action: str) -> Response:
        if action not in services.ACTIONS:
            raise Http404("No such action.")
        case = selectors.case_get_for_user(user=request.user, number=number)
        serializer = TransitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.case_act(actor=request.user, case=case, name=action, data=serializer.validated_data)
        code = status.HTTP_201_CREATED if action == "split" else status.HTTP_200_OK
        return Response(CaseDetailSerializer(result, context={"request": request}).data, status=code)


class CaseTimelineApi(APIView):
    """``GET`` the timeline (customers never see internal notes); ``POST`` a message or, for staff, a note.
    A closed case takes posts from staff only: a customer gets 400 with the reason."""

    @extend_schema(responses=TimelineEntryDetailSerializer(many=True))
    def get(self, request: AuthenticatedApiRequest, number: str) -> Response:
        case = selectors.case_get_for_user(user=request.user, number=number)
        entries = selectors.case_timeline_for_user(user=request.user, case=case)
        return Response(TimelineEntryDetailSerializer(entries, many=True).data)

    @extend_schema(request=TimelineEntrySerializer, responses={201: TimelineEntrySerializer})
    def post(self, request: AuthenticatedApiRequest, number: str) -> Response:
        case = selectors.case_get_for_user(user=request.user, number=number)
        serializer = TimelineEntrySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = services.timeline_add(
            actor=request.user,
            case=case,
            body=serializer.validated_data["body"],
            internal=serializer.validated_data.get("internal", False),
        )
        return Response(TimelineEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class CaseScopeApi(APIView):
    """``GET`` the scope versions you may read, newest first (customers only sent ones, never a draft);
    ``POST`` a new version (a draft until it is sent)."""

    @extend_schema(responses=ScopeVersionSerializer(many=True))
    def get(self, request: AuthenticatedApiRequest, number: str) -> Response:
        case = selectors.case_get_for_user(user=request.user, number=number)
        versions = selectors.case_scope_versions_for_user(user=request.user, case=case)
        return Response(ScopeVersionSerializer(versions, many=True).data)

    @extend_schema(request=ScopeVersionSerializer, responses={201: ScopeVersionSerializer})
    def post(self, request: AuthenticatedApiRequest, number: str) -> Response:
        case = selectors.case_get_for_user(user=request.user, number=number)
        serializer = ScopeVersionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = services.scope_save(actor=request.user, case=case, **serializer.validated_data)
        return Response(ScopeVersionSerializer(version).data, status=status.HTTP_201_CREATED)


class CaseScopeAnswerApi(APIView):
    """The customer accepts the current scope or objects to it with a comment."""

    @extend_schema(request=ScopeAnswerSerializer, responses={201: ScopeAnswerSerializer})
    def post(self, request: AuthenticatedApiRequest, number: str) -> Response:
        case = selectors.case_get_for_user(user=request.user, number=number)
        serializer = ScopeAnswerSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        conversation.scope_acknowledge(actor=request.user, case=case, **serializer.validated_data)
        return Response(serializer.data, status=status.HTTP_201_CREATED)


class CaseResolutionAnswerApi(APIView):
    """The customer confirms the proposed resolution or rejects it (a comment is needed to reject).
    Answering a proposal that is not waiting, or twice: 400 with the reason; staff: 403."""

    @extend_schema(request=ResolutionAnswerSerializer, responses=ResolutionProposalSerializer)
    def post(self, request: AuthenticatedApiRequest, number: str) -> Response:
        case = selectors.case_get_for_user(user=request.user, number=number)
        serializer = ResolutionAnswerSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        proposal = conversation.resolution_answer(actor=request.user, case=case, **serializer.validated_data)
        return Response(ResolutionProposalSerializer(proposal).data)


class CaseSummaryApi(APIView):
    """Every version of the closing summary, newest first."""

    @extend_schema(responses=CaseSummarySerializer(many=True))
    def get(self, request: AuthenticatedApiRequest, number: str) -> Response:
        case = selectors.case_get_for_user(user=request.user, number=number)
        return Response(CaseSummarySerializer(case.summaries.select_related("author"), many=True).data)


class CaseAuditApi(APIView):
    """The audit trail of a case (support staff only)."""

    @extend_schema(responses=AuditEventSerializer(many=True))
    def get(self, request: AuthenticatedApiRequest, number: str) -> Response:
        case = selectors.case_get_for_user(user=request.user, number=number)
        if not can_see_internal(request.user):
            raise PermissionDenied("The audit trail is for support staff.")
        return Response(AuditEventSerializer(selectors.case_audit_trail(case=case), many=True).data)
