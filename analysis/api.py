"""Analysis API: thin classes that authorise through cases.selectors and read through analysis.selectors."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.capabilities import can_see_internal
from accounts.requests import AuthenticatedApiRequest
from analysis import selectors
from analysis.serializers import CaseFindingsSerializer, crash_json, finding_json, upload_analysis
from cases.selectors import case_get_for_user


class CaseFindingsApi(APIView):
    """``GET /api/cases/<number>/findings/``: crashes (command line JSON contract) and findings, case-level
    and per upload. Staff only: customers of the case get 403 (findings are internal until shared; their
    upload's analysis state is on ``/api/uploads/<id>/``); other organisations get 404."""

    @extend_schema(responses=CaseFindingsSerializer)
    def get(self, request: AuthenticatedApiRequest, number: str) -> Response:
        case = case_get_for_user(user=request.user, number=number)
        if not can_see_internal(request.user):
            raise PermissionDenied(_("Findings are internal to the support team."))
        statuses = selectors.upload_statuses_for_case(case=case)
        return Response(
            {
                "case": case.number,
                "uploads": [
                    {
                        "id": str(s.upload.pk),
                        "filename": s.upload.filename,
                        "analysis": upload_analysis(s.upload),
                    }
                    for s in statuses
                ],
                "crashes": [crash_json(crash) for crash in selectors.crashes_for_case(case=case)],
                "findings": [finding_json(finding) for finding in selectors.findings_for_case(case=case)],
            }
        )
