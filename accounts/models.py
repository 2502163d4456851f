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
    password_login = models.BooleanField(
        _("password sign-in"),
        default=True,
        help_text=_("Off: members sign in with the organisation's single sign-on only."),
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
    # Raised by every save or delete of one of the user's second-factor devices (accounts.signals): a
    # session verified at this value needs no device look-up (accounts.two_factor.session_device).
    second_factor_stamp = models.PositiveIntegerField(default=0, editable=False)

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


class IdentityProvider(models.Model):
    """An OpenID Connect provider: an organisation's (its customers sign in with it) or, without an
    organisation, the support company's own (staff sign in with it). accounts/sso.py, README."""

    name = models.CharField(_("name"), max_length=200, help_text=_("Shown on the sign-in button."))
    slug = models.SlugField(unique=True, help_text=_("In the sign-in address: /accounts/sso/<slug>/."))
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="identity_providers",
        help_text=_("Empty: the support company's provider, for staff."),
    )
    issuer = models.URLField(
        _("issuer"),
        max_length=500,
        help_text=_("Its discovery document is read from <issuer>/.well-known/openid-configuration."),
    )
    client_id = models.CharField(_("client id"), max_length=255)
    client_secret = models.CharField(_("client secret"), max_length=500)
    email_domains = models.CharField(
        _("e-mail domains"),
        max_length=500,
        blank=True,
        help_text=_("Comma-separated: people who type such an address on the sign-in page are sent here."),
    )
    new_user_role = models.CharField(
        _("role of new users"),
        max_length=20,
        choices=User.Role.choices,
        default=User.Role.CUSTOMER,
        help_text=_("People unknown to the portal are created on first sign-in with this role."),
    )
    create_users = models.BooleanField(_("create users on first sign-in"), default=True)
    trust_email = models.BooleanField(
        _("trust e-mail addresses"),
        default=False,
        help_text=_(
            "The provider sends no email_verified claim but its addresses are the directory's own "
            "(Microsoft Entra ID)."
        ),
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def for_staff(self) -> bool:
        return self.organisation_id is None

    def domains(self) -> list[str]:
        return [part.strip().lower().lstrip("@") for part in self.email_domains.split(",") if part.strip()]
