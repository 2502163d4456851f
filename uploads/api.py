"""Thin API classes: the tus endpoints and the upload list, detail and download (STYLE.md rule 1)."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpResponseBase
from django.urls import reverse
from django.utils import timezone
from django.utils.http import http_date
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.requests import AuthenticatedApiRequest, signed_in_user
from accounts.tokens import ExpiringTokenAuthentication
from analysis.serializers import UploadWithAnalysisSerializer
from cases.selectors import case_get_for_user
from uploads import selectors, services, tus, withdrawal
from uploads.errors import TusVersionUnsupported
from uploads.models import Upload
from uploads.serializers import UploadSerializer
from uploads.views import download_response

# Token first so a request without credentials gets 401 with ``WWW-Authenticate: Token`` (tus clients
# and scripts), while a browser's session still works and has its CSRF token checked by DRF.
AUTHENTICATION = [ExpiringTokenAuthentication, SessionAuthentication]


class TusApiView(APIView):
    """Common to the tus endpoints: every answer carries ``Tus-Resumable``; HEAD answers have no body."""

    authentication_classes = AUTHENTICATION

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method != "OPTIONS" and request.headers.get("Tus-Resumable") != tus.TUS_VERSION:
            raise TusVersionUnsupported(_("This server speaks tus 1.0.0 (send Tus-Resumable: 1.0.0)."))

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Tus-Resumable"] = tus.TUS_VERSION
        response["Cache-Control"] = "no-store"
        if response.status_code == status.HTTP_412_PRECONDITION_FAILED:
            response["Tus-Version"] = tus.TUS_VERSION
        if request.method == "HEAD" and isinstance(response, Response):
            response.data = None
        return response

    # DRF's APIView takes its own Request here, narrowing Django's View.options the same way.
    def options(self, request: Request, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        # initial() ran the permission check (a signed-in user) before this handler.
        self._authorise(cast(AuthenticatedApiRequest, request), **kwargs)
        return Response(
            status=status.HTTP_204_NO_CONTENT,
            headers={
                "Tus-Version": tus.TUS_VERSION,
                "Tus-Extension": tus.TUS_EXTENSIONS,
                "Tus-Max-Size": str(settings.UPLOAD_MAX_SIZE),
                "Tus-Checksum-Algorithm": ",".join(tus.CHECKSUM_ALGORITHMS),
            },
        )

    def _authorise(self, request: AuthenticatedApiRequest, **kwargs: Any) -> object:
        raise NotImplementedError


def _offset_headers(upload: Upload) -> dict[str, str]:
    headers = {"Upload-Offset": str(upload.offset), "Upload-Length": str(upload.size)}
    if upload.state == Upload.State.RECEIVING and upload.expires_at:
        headers["Upload-Expires"] = http_date(upload.expires_at.timestamp())
    return headers


class TusCreateApi(TusApiView):
    """``POST /api/cases/<number>/uploads/tus/``: tus creation (``Upload-Length``, ``Upload-Metadata``)."""

    def _authorise(self, request: AuthenticatedApiRequest, **kwargs: Any) -> object:
        return case_get_for_user(user=request.user, number=kwargs["number"])

    @extend_schema(request=None, responses={201: None})
    def post(self, request: AuthenticatedApiRequest, number: str) -> Response:
        case = case_get_for_user(user=request.user, number=number)
        if request.headers.get("Upload-Defer-Length"):
            return Response(
                {"detail": _("Upload-Defer-Length is not supported: send Upload-Length.")},
                status=status.HTTP_400_BAD_REQUEST,
            )
        size = tus.header_int(request.headers.get("Upload-Length"), "Upload-Length")
        metadata = tus.metadata_parse(request.headers.get("Upload-Metadata"))
        upload = services.upload_create(
            actor=request.user,
            case=case,
            filename=metadata.get("filename") or metadata.get("name") or "",
            size=size,
            metadata=metadata,
        )
        location = request.build_absolute_uri(reverse("api:upload_tus_detail", args=[number, upload.pk]))
        return Response(
            {"id": str(upload.pk), "state": upload.state},
            status=status.HTTP_201_CREATED,
            headers={"Location": location, **_offset_headers(upload)},
        )


@extend_schema(exclude=True)  # the same endpoint as TusCreateApi, for clients that drop the slash
class TusCreateNoSlashApi(TusCreateApi):
    pass


class TusUploadApi(TusApiView):
    """``HEAD``/``PATCH``/``DELETE /api/cases/<number>/uploads/tus/<id>``: tus core and termination."""

    def _authorise(self, request: AuthenticatedApiRequest, **kwargs: Any) -> Upload:
        return selectors.upload_get_for_user(
            user=request.user, upload_id=kwargs["upload_id"], case_number=kwargs["number"]
        )

    @extend_schema(responses={200: None})
    def head(self, request: AuthenticatedApiRequest, number: str, upload_id: str) -> Response:
        upload = self._authorise(request, number=number, upload_id=upload_id)
        gone = upload.content_deleted_at is not None and upload.state == Upload.State.REJECTED
        expired = (
            upload.state == Upload.State.RECEIVING
            and upload.expires_at
            and upload.expires_at <= timezone.now()
        )
        if gone or expired:
            return Response(status=status.HTTP_410_GONE)
        return Response(status=status.HTTP_200_OK, headers=_offset_headers(upload))

    @extend_schema(request=None, responses={204: None})
    def patch(self, request: AuthenticatedApiRequest, number: str, upload_id: str) -> Response:
        upload = self._authorise(request, number=number, upload_id=upload_id)
        meta = request.META
        raw_length = meta.get("CONTENT_LENGTH") or ""
        length = tus.header_int(raw_length, "Content-Length") if raw_length else None
        stream = request._request
        if length is None and "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
            stream = meta["wsgi.input"]  # Django reads nothing without a length; the server de-chunks
        elif length is None:
            length = 0
        upload = tus.tus_patch(
            actor=request.user,
            upload_id=str(upload.pk),
            case_id=upload.case_id,
            content_type=request.content_type or "",
            offset=tus.header_int(request.headers.get("Upload-Offset"), "Upload-Offset"),
            length=length,
            checksum=tus.checksum_parse(request.headers.get("Upload-Checksum")),
            stream=stream,
        )
        headers = _offset_headers(upload)
        headers.pop("Upload-Length")
        return Response(status=status.HTTP_204_NO_CONTENT, headers=headers)

    @extend_schema(responses={204: None})
    def delete(self, request: AuthenticatedApiRequest, number: str, upload_id: str) -> Response:
        upload = self._authorise(request, number=number, upload_id=upload_id)
        services.upload_terminate(actor=request.user, upload=upload)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UploadListApi(ListAPIView[Upload]):
    """``GET /api/cases/<number>/uploads/``: the case's uploads, newest first, paginated."""

    serializer_class = UploadSerializer
    authentication_classes = AUTHENTICATION

    def get_queryset(self) -> QuerySet[Upload]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no case, no user
            return Upload.objects.none()
        case = case_get_for_user(user=signed_in_user(self.request), number=self.kwargs["number"])
        return selectors.upload_list_for_case(case=case)


class UploadWithdrawSerializer(serializers.Serializer[None]):
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="Why the file is deleted: required from support staff, optional for its uploader.",
    )


class UploadDetailApi(APIView):
    """``GET /api/uploads/<id>/``: one upload (the analysis side adds its job state).
    ``DELETE``: withdraw a finished file (its uploader; staff with a ``reason``) or cancel an unfinished
    upload."""

    authentication_classes = AUTHENTICATION
    serializer_class = UploadWithAnalysisSerializer

    @extend_schema(responses=UploadWithAnalysisSerializer)
    def get(self, request: AuthenticatedApiRequest, id: str) -> Response:  # noqa: A002 - the URL's contract name
        upload = selectors.upload_get_for_user(user=request.user, upload_id=id)
        return Response(self.serializer_class(upload, context={"request": request}).data)

    @extend_schema(
        request=UploadWithdrawSerializer,
        responses={200: UploadWithAnalysisSerializer, 204: None},
        description=(
            "Withdraw a finished upload: 200 with the record (file and analysis gone; name, size and "
            "SHA-256 kept). An unfinished upload is cancelled: 204, nothing is left of it. 403: someone "
            "else's file; 400: staff without a reason; 409: being analysed, scanned or expanded, or "
            "already withdrawn."
        ),
    )
    def delete(self, request: AuthenticatedApiRequest, id: str) -> Response:  # noqa: A002
        upload = selectors.upload_get_for_user(user=request.user, upload_id=id)
        body = UploadWithdrawSerializer(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        reason = body.validated_data.get("reason") or request.query_params.get("reason", "")
        withdrawn = withdrawal.upload_remove(actor=request.user, upload=upload, reason=reason)
        if withdrawn is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        upload = selectors.upload_get_for_user(user=request.user, upload_id=id)
        return Response(self.serializer_class(upload, context={"request": request}).data)


class UploadDownloadApi(APIView):
    """``GET /api/uploads/<id>/download/``: the file as an attachment, streamed and audited."""

    authentication_classes = AUTHENTICATION

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request: AuthenticatedApiRequest, id: str) -> HttpResponseBase:  # noqa: A002
        upload = selectors.upload_get_for_user(user=request.user, upload_id=id)
        return download_response(actor=request.user, upload=upload)
