from axes.admin import AccessAttemptAdmin as AxesAccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import IdentityProvider, Organisation, User
from accounts.requests import signed_in_user
from accounts.throttling import signin_lockout_lift


@admin.register(User)
class UserAdmin(BaseUserAdmin[User]):
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        ("Portal", {"fields": ("role", "organisation", "language")}),
    )
    list_display = ("username", "email", "role", "organisation", "is_active")
    list_filter = ("role", "organisation", "is_active")
    list_select_related = ("organisation",)


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin[Organisation]):
    list_display = ("name", "slug", "password_login", "created_at")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("account_managers",)
    search_fields = ("name",)


@admin.register(IdentityProvider)
class IdentityProviderAdmin(admin.ModelAdmin[IdentityProvider]):
    list_display = ("name", "slug", "organisation", "issuer", "new_user_role", "enabled")
    list_filter = ("enabled", "organisation")
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("name", "issuer", "email_domains")


# django-axes' page of failed sign-ins, with lifting a lockout as an audited service call: deleting a row
# (one by one or as the bulk action) is the same lift.
admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class AccessAttemptAdmin(AxesAccessAttemptAdmin):  # type: ignore[misc]  # django-axes has no types
    actions = ["lift_lockout", "cleanup_expired_attempts"]

    @admin.action(description=gettext_lazy("Lift the lockout of the selected user names and addresses"))
    def lift_lockout(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        lifted = signin_lockout_lift(actor=signed_in_user(request), attempts=queryset)
        self.message_user(
            request,
            _("Lockout lifted for %(pairs)s.")
            % {"pairs": ", ".join(f"{item.username} @ {item.address}" for item in lifted) or "-"},
            messages.SUCCESS,
        )

    def delete_model(self, request: HttpRequest, obj: AccessAttempt) -> None:
        signin_lockout_lift(actor=signed_in_user(request), attempts=AccessAttempt.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        signin_lockout_lift(actor=signed_in_user(request), attempts=queryset)
