from django.urls import path

from oversight import views

app_name = "oversight"

urlpatterns = [
    path("review/", views.review_queue, name="review"),
    path("review/export.csv", views.review_export, name="review_export"),
    path("review/<str:number>/decide/", views.review_decide, name="review_decide"),
    path("review/<str:number>/summary.pdf", views.summary_pdf_download, name="summary_pdf"),
    path("cases/<str:number>/summary/rewrite/", views.summary_rewrite, name="summary_rewrite"),
    path("reports/", views.report_dashboard, name="reports"),
    path("audit/", views.audit_trail, name="audit"),
    path("audit/export.csv", views.audit_export, name="audit_export"),
    path("service-levels/", views.service_levels, name="service_levels"),
    path("service-levels/targets/new/", views.target_edit, name="target_new"),
    path("service-levels/targets/<int:pk>/", views.target_edit, name="target_edit"),
    path("service-levels/calendars/new/", views.calendar_edit, name="calendar_new"),
    path("service-levels/calendars/<int:pk>/", views.calendar_edit, name="calendar_edit"),
]
