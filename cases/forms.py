from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Organisation, User
from cases.models import ResolutionType, Severity


class CustomerChoiceField(forms.ModelChoiceField[User]):
    def label_from_instance(self, obj: User) -> str:
        return f"{obj} ({obj.organisation})"


class CaseCreateForm(forms.Form):
    organisation = forms.ModelChoiceField(queryset=Organisation.objects.none(), label=_("Organisation"))
    title = forms.CharField(max_length=200, label=_("Title"))
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}), required=False, label=_("Description")
    )
    severity = forms.ChoiceField(choices=Severity.choices, initial=Severity.MEDIUM, label=_("Severity"))
    product = forms.CharField(max_length=120, required=False, label=_("Product / area"))
    external_reference = forms.CharField(max_length=120, required=False, label=_("External reference"))
    customer_contact = CustomerChoiceField(
        queryset=User.objects.none(), required=False, label=_("Customer contact")
    )
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False, label=_("Owner"))

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        organisations = Organisation.objects.all()
        if user.is_account_manager:
            organisations = organisations.filter(account_managers=user)
        cast(forms.ModelChoiceField[Organisation], self.fields["organisation"]).queryset = organisations
        # The fields declared above, as their own classes (the form's fields dict holds Field).
        contact = cast(forms.ModelChoiceField[User], self.fields["customer_contact"])
        contact.queryset = User.objects.filter(
            role=User.Role.CUSTOMER, is_active=True, organisation__in=organisations
        ).select_related("organisation")
        cast(forms.ModelChoiceField[User], self.fields["owner"]).queryset = User.objects.filter(
            role__in=[User.Role.ENGINEER, User.Role.MANAGER], is_active=True
        )
        if user.role in {User.Role.ENGINEER, User.Role.MANAGER}:
            self.fields["owner"].initial = user.pk


class ScopeForm(forms.Form):
    problem_definition = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), label=_("Problem definition")
    )
    scope = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), label=_("Scope and closure criteria"))
    next_steps = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), label=_("Next steps"))


class AnswerForm(forms.Form):
    """The customer's yes or no, with a comment: to the scope (accept, object) or to a proposed resolution
    (confirm, reject). The page's two buttons post ``accepted`` as 1 or 0."""

    accepted = forms.TypedChoiceField(
        choices=[("1", _("Accept")), ("0", _("Object"))],
        coerce=lambda value: value == "1",
        label=_("Decision"),
    )
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label=_("Comment"))


class MessageForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label=_("Message"))
    internal = forms.BooleanField(required=False, label=_("Internal note (not shown to the customer)"))


class TransitionForm(forms.Form):
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, label=_("Message"))


class AssignForm(forms.Form):
    owner = forms.ModelChoiceField(queryset=User.objects.none(), label=_("New owner"))
    reason = forms.CharField(max_length=500, required=False, label=_("Reason"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField[User], self.fields["owner"]).queryset = User.objects.filter(
            role__in=[User.Role.ENGINEER, User.Role.MANAGER], is_active=True
        ).order_by("username")


class CloseForm(forms.Form):
    problem_description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), label=_("Problem description")
    )
    analysis = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), label=_("Analysis"))
    resolution = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), label=_("Resolution"))
    resolution_type = forms.ChoiceField(choices=ResolutionType.choices, label=_("Resolution type"))


class SplitForm(forms.Form):
    title = forms.CharField(max_length=200, label=_("Title of the new case"))
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, label=_("Description")
    )
