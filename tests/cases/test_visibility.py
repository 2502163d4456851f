"""Who may see a case is decided by one rule written twice: as a queryset (lists, pages, API) and for one
organisation's cases (the version poll, which reads the organisation with the version). Both must give
the same answer to every person for every case."""

from __future__ import annotations

import pytest

from accounts.models import User
from cases import selectors
from cases.models import Case
from tests.factories import CaseFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(customer, other_customer, engineer, manager, account_manager, organisation):
    retired = UserFactory(
        username="retired", role=User.Role.CUSTOMER, organisation=organisation, is_active=False
    )
    idle_tam = UserFactory(username="idle-tam", role=User.Role.ACCOUNT_MANAGER)
    admin = UserFactory(
        username="root", role=User.Role.CUSTOMER, organisation=organisation, is_superuser=True
    )
    return [customer, other_customer, engineer, manager, account_manager, retired, idle_tam, admin]


def test_the_two_forms_of_the_rule_agree(people, case, other_organisation):
    other_case = CaseFactory(organisation=other_organisation)
    for person in people:
        for each in (case, other_case):
            in_queryset = selectors.case_visible_queryset(person).filter(pk=each.pk).exists()
            for_organisation = selectors._organisation_cases_visible(
                person, organisation_id=each.organisation_id
            )
            assert in_queryset == for_organisation, (person.username, each.organisation.slug)


def test_the_version_poll_answers_who_may_see_and_hides_the_case_from_the_rest(people, case):
    version = Case.objects.values_list("live_version", flat=True).get(pk=case.pk)
    answers = {}
    for person in people:
        try:
            answers[person.username] = selectors.case_live_version(user=person, number=case.number)
        except Exception as error:  # Http404
            answers[person.username] = type(error).__name__
    assert answers == {
        "alice": version,
        "bob": "Http404",
        "engineer": version,
        "manager": version,
        "tam": version,
        "retired": "Http404",
        "idle-tam": "Http404",
        "root": version,
    }
