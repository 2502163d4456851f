"""Included at the site root before cases.urls."""

from django.urls import path

from communications import views

app_name = "communications"

urlpatterns = [
    path("cases/<str:number>/documents/sent/<int:document_id>/", views.document_read, name="document_read"),
    path("cases/<str:number>/documents/<str:kind>/", views.document_edit, name="document"),
    path("cases/<str:number>/documents/<str:kind>/send/", views.document_send, name="document_send"),
    path("cases/<str:number>/evidence/", views.evidence_add, name="evidence_add"),
    path("cases/<str:number>/evidence/<int:item_id>/remove/", views.evidence_remove, name="evidence_remove"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("notifications/<int:notification_id>/open/", views.notification_open, name="notification_open"),
    path("notifications/preferences/", views.preferences, name="preferences"),
]
