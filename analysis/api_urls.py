"""Included under /api/ before the cases' catch-all ``cases/<number>/<action>/`` route."""

from django.urls import path

from analysis import api

urlpatterns = [
    path("cases/<str:number>/findings/", api.CaseFindingsApi.as_view(), name="case_findings"),
]
