"""Included at the site root before cases.urls (``/cases/<number>/upload/`` is a contract path)."""

from django.urls import path

from uploads import views

app_name = "uploads"

urlpatterns = [
    path("cases/<str:number>/upload/", views.upload_page, name="page"),
    path("uploads/<uuid:upload_id>/download/", views.upload_download, name="download"),
    path("uploads/<uuid:upload_id>/withdraw/", views.upload_withdraw, name="withdraw"),
]
