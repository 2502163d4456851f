"""A lookup the ORM builds once (config.prepared) answers what the ORM answers, read fresh each time."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from config.prepared import PreparedLookup
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

_by_id = PreparedLookup(lambda user_id: User.objects.filter(pk=user_id), 0)
_joined = PreparedLookup(
    lambda user_id: User.objects.filter(pk=user_id).values_list("date_joined", "role"), 0
)


def test_an_instance_has_every_field_the_orm_loads(engineer):
    found = _by_id.first(engineer.pk)
    loaded = User.objects.get(pk=engineer.pk)
    assert isinstance(found, User) and not found._state.adding
    assert {field.attname: getattr(found, field.attname) for field in User._meta.concrete_fields} == {
        field.attname: getattr(loaded, field.attname) for field in User._meta.concrete_fields
    }


def test_each_call_reads_the_database_again(engineer):
    _by_id.first(engineer.pk)
    User.objects.filter(pk=engineer.pk).update(first_name="Renamed")
    with CaptureQueriesContext(connection) as queries:
        assert _by_id.first(engineer.pk).first_name == "Renamed"
    assert len(queries) == 1


def test_values_are_converted_as_the_orm_converts_them(engineer):
    # On SQLite a date and time comes back as text: the ORM's converters make it a datetime again.
    assert _joined.first(engineer.pk) == tuple(
        User.objects.filter(pk=engineer.pk).values_list("date_joined", "role").get()
    )


def test_nothing_found_is_none(db):
    assert _by_id.first(10**9) is None
    assert _joined.first(10**9) is None


def test_a_query_of_more_than_one_value_is_refused(db):
    UserFactory(username="someone")
    two_values = PreparedLookup(
        lambda name: User.objects.filter(username=name, email="a@example.com"), "someone"
    )
    with pytest.raises(ValueError, match="one parameter"):
        two_values.first("someone")
