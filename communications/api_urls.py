"""Included under /api/."""

from django.urls import path

from communications import api

urlpatterns = [
    path("notifications/", api.NotificationListApi.as_view(), name="notification-list"),
]
