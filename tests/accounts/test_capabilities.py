"""Every capability of ``accounts.capabilities`` for every kind of user, with the exact answer: one table
here, so a change of who may do what is a change of this table."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import Context, Template

from accounts import capabilities
from accounts.capabilities import CAPABILITIES, Capabilities
from accounts.models import User

ROLES = ("customer", "engineer", "manager", "account_manager", "superuser", "inactive", "anonymous")

# capability: the roles that have it (every other role of ROLES has not).
EXPECTED = {
    "see_internal": {"engineer", "manager", "account_manager", "superuser"},
    "act_for_vendor": {"engineer", "manager", "account_manager", "superuser"},
    "invite_contacts": {"engineer", "manager", "account_manager", "superuser"},
    "open_cases": {"engineer", "manager", "account_manager"},
    "work_cases": {"engineer", "manager", "superuser"},
    "rerun_analysis": {"engineer", "manager", "superuser"},
    "manage_mail_queue": {"engineer", "manager", "superuser"},
    "delete_any_upload": {"engineer", "manager", "superuser"},
    "review": {"manager", "superuser"},
    "see_reports": {"manager", "superuser"},
    "see_audit_trail": {"manager", "superuser"},
    "manage_service_levels": {"manager", "superuser"},
}


def _user(kind: str) -> User | AnonymousUser:
    """An unsaved user of that kind: the predicates read the user's fields only."""
    if kind == "anonymous":
        return AnonymousUser()
    if kind == "superuser":
        return User(username=kind, role=User.Role.CUSTOMER, is_superuser=True)
    if kind == "inactive":
        # A deactivated manager and superuser in one: no capability survives deactivation.
        return User(username=kind, role=User.Role.MANAGER, is_superuser=True, is_active=False)
    return User(username=kind, role=kind)


def test_the_table_names_every_capability():
    assert set(EXPECTED) == set(CAPABILITIES)
    assert all(getattr(capabilities, f"can_{name}") is CAPABILITIES[name] for name in CAPABILITIES)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("capability", sorted(EXPECTED))
def test_each_capability_for_each_role(capability, role):
    assert CAPABILITIES[capability](_user(role)) is (role in EXPECTED[capability])


@pytest.mark.parametrize("role", ("engineer", "manager", "account_manager"))
def test_deactivating_a_staff_member_takes_every_capability(role):
    user = User(username=role, role=role, is_active=False)
    assert not any(predicate(user) for predicate in CAPABILITIES.values())


@pytest.mark.parametrize("role", ROLES)
def test_templates_read_the_same_answers(role):
    can = Capabilities(_user(role))
    source = " ".join(f"{{% if can.{name} %}}{name}{{% endif %}}" for name in sorted(EXPECTED))
    rendered = Template(source).render(Context({"can": can}))
    assert set(rendered.split()) == {name for name in EXPECTED if role in EXPECTED[name]}


def test_an_unknown_capability_is_no_capability():
    can = Capabilities(_user("manager"))
    assert Template("{% if can.fly %}yes{% else %}no{% endif %}").render(Context({"can": can})) == "no"
    with pytest.raises(AttributeError):
        can.fly  # noqa: B018
