"""factory_boy factories for the portal's models."""

from __future__ import annotations

import factory

from accounts.models import Organisation, User
from cases.models import Case, Severity
from cases.search_index import case_search_mark

PASSWORD = "correct-horse-battery-9"


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Organisation {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    role = User.Role.ENGINEER
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class CustomerFactory(UserFactory):
    role = User.Role.CUSTOMER
    organisation = factory.SubFactory(OrganisationFactory)


class CaseFactory(factory.django.DjangoModelFactory):
    """A case row written directly, for reads; lifecycle tests go through the services. Written around
    them, it queues its own search documents as the services' writes do (``case_search_mark``)."""

    class Meta:
        model = Case
        skip_postgeneration_save = True

    number = factory.Sequence(lambda n: f"CAS-{n % 100000:05d}-TEST{n % 100:02d}")
    title = factory.Sequence(lambda n: f"Blue screen on host {n}")
    organisation = factory.SubFactory(OrganisationFactory)
    severity = Severity.MEDIUM

    @factory.post_generation
    def queued_for_search(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            case_search_mark(case_id=obj.pk)
