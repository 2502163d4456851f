"""Users, their role, and the customer organisations they belong to or look after."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Organisation(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    slug = models.SlugField(unique=True)
    # Technical account managers who open cases for this organisation and follow them.
    account_managers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="managed_organisations"
    )
    quota_bytes = models.BigIntegerField(
        _("upload quota (bytes)"), null=True, blank=True, help_text=_("Empty: the site-wide default.")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    class Role(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        ENGINEER = "engineer", _("Support engineer")
        MANAGER = "manager", _("Manager")
        ACCOUNT_MANAGER = "account_manager", _("Account manager")

    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.CUSTOMER)
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
        help_text=_("Customers only: the organisation whose cases they see."),
    )
    language = models.CharField(
        _("language"),
        max_length=10,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_("Empty: the browser's."),
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(role="customer") | models.Q(organisation__isnull=False),
                name="customer_has_organisation",
            )
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def is_customer(self) -> bool:
        return self.role == self.Role.CUSTOMER

    @property
    def is_support_staff(self) -> bool:
        """Engineers, managers and account managers: the vendor's side of a case."""
        return self.role in {self.Role.ENGINEER, self.Role.MANAGER, self.Role.ACCOUNT_MANAGER}

    @property
    def is_case_worker(self) -> bool:
        """Engineers and managers (and superusers) run cases; account managers and customers do not."""
        return self.is_active and (self.is_superuser or self.role in {self.Role.ENGINEER, self.Role.MANAGER})

    @property
    def is_engineer(self) -> bool:
        return self.role == self.Role.ENGINEER

    @property
    def is_manager(self) -> bool:
        return self.role == self.Role.MANAGER

    @property
    def is_account_manager(self) -> bool:
        return self.role == self.Role.ACCOUNT_MANAGER


class Invitation(models.Model):
    """An engineer's invitation of a customer contact to a case: the link lets them choose their own
    password (or use their existing account). Only a hash of the token is stored."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="invitations")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("e-mail"))
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="invitations_sent"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} ({self.case_id})"
