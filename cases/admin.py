"""Admin: lifecycle fields are read-only here; edits go through the same services as pages and API."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest

from accounts.requests import signed_in_user
from cases import services
from cases.errors import DomainError
from cases.models import AuditEvent, Case, CaseSummary, ScopeVersion, TimelineEntry


class ReadOnlyInline(admin.TabularInline[Model, Case]):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ScopeInline(ReadOnlyInline):
    model = ScopeVersion
    fields = ("version", "problem_definition", "scope", "next_steps", "author", "created_at")
    readonly_fields = fields


class SummaryInline(ReadOnlyInline):
    model = CaseSummary
    fields = ("version", "resolution_type", "problem_description", "analysis", "resolution", "author")
    readonly_fields = fields


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin[Case]):
    list_display = ("number", "title", "organisation", "state", "severity", "owner", "opened_at")
    list_filter = ("state", "severity", "organisation")
    list_select_related = ("organisation", "owner")
    search_fields = ("number", "title", "organisation__name")
    fields = (
        "number",
        "title",
        "description",
        "severity",
        "product",
        "external_reference",
        "organisation",
        "customer_contact",
        "owner",
        "state",
        "parent",
        "opened_at",
        "first_response_at",
        "scoped_at",
        "closed_at",
    )
    # Only the descriptive fields are edited here; the rest changes through the lifecycle services.
    readonly_fields = tuple(
        name
        for name in fields
        if name not in {"title", "description", "severity", "product", "external_reference"}
    )
    inlines = [ScopeInline, SummaryInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # cases are opened through the portal so they get a number, an audit event and mail

    def has_delete_permission(self, request: HttpRequest, obj: Case | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Case, form: ModelForm[Case], change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            services.case_update(actor=signed_in_user(request), case=Case.objects.get(pk=obj.pk), **fields)
        except DomainError as error:
            self.message_user(request, error.message, level=messages.ERROR)


@admin.register(TimelineEntry)
class TimelineEntryAdmin(admin.ModelAdmin[TimelineEntry]):
    list_display = ("case", "kind", "internal", "author", "created_at")
    list_select_related = ("case", "author")
    readonly_fields = ("case", "kind", "internal", "body", "author", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    list_display = ("created_at", "case", "actor", "action", "from_state", "to_state")
    list_filter = ("action",)
    list_select_related = ("case", "actor")
    search_fields = ("case__number", "actor__username", "action")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
