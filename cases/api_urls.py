from django.urls import path

from cases import api

# The catch-all action route comes last in config/urls.py so uploads and findings routes win.
urlpatterns = [
    path("cases/", api.CaseListCreateApi.as_view(), name="case-list"),
    path("cases/<str:number>/", api.CaseDetailApi.as_view(), name="case-detail"),
    path("cases/<str:number>/timeline/", api.CaseTimelineApi.as_view(), name="case-timeline"),
    path("cases/<str:number>/scope/", api.CaseScopeApi.as_view(), name="case-scope"),
    path("cases/<str:number>/scope/answer/", api.CaseScopeAnswerApi.as_view(), name="case-scope-answer"),
    path("cases/<str:number>/summary/", api.CaseSummaryApi.as_view(), name="case-summary"),
    path(
        "cases/<str:number>/resolution/answer/",
        api.CaseResolutionAnswerApi.as_view(),
        name="case-resolution-answer",
    ),
    path("cases/<str:number>/audit/", api.CaseAuditApi.as_view(), name="case-audit"),
]
action_urlpatterns = [
    path("cases/<str:number>/<str:action>/", api.CaseActionApi.as_view(), name="case-action"),
]
