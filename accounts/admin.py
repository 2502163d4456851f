from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import IdentityProvider, Organisation, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (*BaseUserAdmin.fieldsets, ("Portal", {"fields": ("role", "organisation", "language")}))
    list_display = ("username", "email", "role", "organisation", "is_active")
    list_filter = ("role", "organisation", "is_active")
    list_select_related = ("organisation",)


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "password_login", "created_at")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("account_managers",)
    search_fields = ("name",)


@admin.register(IdentityProvider)
class IdentityProviderAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "organisation", "issuer", "new_user_role", "enabled")
    list_filter = ("enabled", "organisation")
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("name", "issuer", "email_domains")
