"""Thin API classes of the communications app."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.generics import ListAPIView

from cases.models import Case
from communications import selectors
from communications.models import Notification
from communications.notifications import event_text


class NotificationSerializer(serializers.ModelSerializer[Notification]):
    case = serializers.SlugRelatedField[Case](slug_field="number", read_only=True)
    title = serializers.SerializerMethodField()
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "case", "kind", "title", "created_at", "read"]

    @extend_schema_field(serializers.CharField())
    def get_title(self, notification: Notification) -> str:
        return event_text(notification.event)

    @extend_schema_field(serializers.BooleanField())
    def get_read(self, notification: Notification) -> bool:
        return notification.read_at is not None


class NotificationListApi(ListAPIView[Notification]):
    """``GET`` your notifications, newest first, each with its case number and what happened (in your
    language); paginated like every list."""

    serializer_class = NotificationSerializer
    queryset = Notification.objects.none()  # the schema generator's model; requests use get_queryset

    def get_queryset(self) -> QuerySet[Notification]:
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.notifications_for_user(user=self.request.user)  # type: ignore[arg-type]
