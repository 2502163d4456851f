"""Included under /api/ before the cases' catch-all ``cases/<number>/<action>/`` route."""

from django.urls import path, re_path

from uploads import api

urlpatterns = [
    path("cases/<str:number>/uploads/", api.UploadListApi.as_view(), name="upload_list"),
    path("cases/<str:number>/uploads/tus/", api.TusCreateApi.as_view(), name="upload_tus"),
    path("cases/<str:number>/uploads/tus", api.TusCreateNoSlashApi.as_view(), name="upload_tus_noslash"),
    # tus clients follow the Location header exactly: answer with and without a trailing slash.
    re_path(
        r"^cases/(?P<number>[^/]+)/uploads/tus/(?P<upload_id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/?$",
        api.TusUploadApi.as_view(),
        name="upload_tus_detail",
    ),
    path("uploads/<uuid:id>/", api.UploadDetailApi.as_view(), name="upload_detail"),
    path("uploads/<uuid:id>/download/", api.UploadDownloadApi.as_view(), name="upload_download"),
]
