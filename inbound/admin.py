from django.contrib import admin

from inbound.models import InboundMessage, ReplyAddressRevocation


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin[InboundMessage]):
    list_display = ["received_at", "from_address", "subject", "state", "reason", "case"]
    list_filter = ["state", "reason", "via"]
    search_fields = ["from_address", "subject", "message_id"]
    readonly_fields = [field.name for field in InboundMessage._meta.fields]


@admin.register(ReplyAddressRevocation)
class ReplyAddressRevocationAdmin(admin.ModelAdmin[ReplyAddressRevocation]):
    list_display = ["case", "user", "generation", "revoked_at", "revoked_by"]
    readonly_fields = ["case", "user", "generation", "revoked_at", "revoked_by"]
