from django.contrib import admin

from outbox.models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin[OutboxMessage]):
    """Read-only: what waits for the broker, what ran, what was given up and why."""

    list_display = ("id", "task", "key", "state", "dispatches", "created_at", "dispatched_at", "done_at")
    list_filter = ("state", "task")
    search_fields = ("key", "task_id")
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False
