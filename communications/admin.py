from django.contrib import admin

from communications.models import (
    EmailDelivery,
    EvidenceItem,
    Notification,
    NotificationPreference,
    SentDocument,
)


@admin.register(SentDocument)
class SentDocumentAdmin(admin.ModelAdmin[SentDocument]):
    list_display = ["case", "kind", "language", "subject", "author", "sent_at"]
    list_filter = ["kind", "language"]
    search_fields = ["case__number", "subject"]
    # A sent document is a record of what the customer received: never edited afterwards.
    readonly_fields = [f.name for f in SentDocument._meta.fields]


@admin.register(EmailDelivery)
class EmailDeliveryAdmin(admin.ModelAdmin[EmailDelivery]):
    list_display = ["to", "subject", "state", "attempts", "created_at", "sent_at"]
    list_filter = ["state"]
    search_fields = ["to", "subject", "case__number"]
    readonly_fields = [f.name for f in EmailDelivery._meta.fields]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin[Notification]):
    list_display = ["recipient", "case", "kind", "created_at", "read_at"]
    list_filter = ["kind"]
    raw_id_fields = ["recipient", "case", "event"]


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin[NotificationPreference]):
    list_display = ["user", "kind", "email", "portal"]


@admin.register(EvidenceItem)
class EvidenceItemAdmin(admin.ModelAdmin[EvidenceItem]):
    list_display = ["case", "label", "kind", "filename_pattern", "created_at"]
    raw_id_fields = ["case"]
