from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated

from accounts import views as account_views
from cases.api_urls import action_urlpatterns as case_action_urls
from cases.api_urls import urlpatterns as case_api_urls
from config.api_auth import TokenCreateApi
from config.health import healthz
from config.metrics import metrics_view


class _DocsPermission:
    """The schema and the docs need a signed-in user or a token unless API_DOCS_PUBLIC (default: DEBUG):
    read at each request, so one setting opens them on a running deployment's next start."""

    def get_permissions(self) -> list[BasePermission]:
        return [AllowAny() if settings.API_DOCS_PUBLIC else IsAuthenticated()]


class SchemaApi(_DocsPermission, SpectacularAPIView):
    pass


class DocsApi(_DocsPermission, SpectacularSwaggerSplitView):
    pass


# Swagger UI sets inline style attributes; only this page relaxes style-src for them.
docs_view = csp_update({"style-src": ["'unsafe-inline'"]})(DocsApi.as_view(url_name="api:schema"))

api_urlpatterns: list[URLPattern | URLResolver] = [
    path("token/", TokenCreateApi.as_view(), name="token"),
    path("schema/", SchemaApi.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file, so the CSP needs no inline script.
    path("docs/", docs_view, name="docs"),
    *case_api_urls,
    path("", include("uploads.api_urls")),
    path("", include("analysis.api_urls")),
    path("", include("communications.api_urls")),
    *case_action_urls,
]

urlpatterns = [
    path("", account_views.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("api/", include((api_urlpatterns, "api"))),
    # The case pages and the version their open pages poll are most of the traffic: Django tries the
    # patterns in order, so theirs come first (no two apps' paths can match the same URL).
    path("", include("cases.urls")),
    path("", include("uploads.urls")),
    path("", include("analysis.urls")),
    path("", include("communications.urls")),
    path("", include("oversight.urls")),
    path("", include("inbound.urls")),
]
