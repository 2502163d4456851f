from django.urls import path

from analysis import views

app_name = "analysis"

urlpatterns = [
    path("cases/<str:number>/analysis/status/", views.analysis_status, name="status"),
    path("cases/<str:number>/analysis/panel/", views.analysis_panel, name="panel"),
    path("cases/<str:number>/analysis/uploads/<uuid:upload_id>/rerun/", views.analysis_rerun, name="rerun"),
]
