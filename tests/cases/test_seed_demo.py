from __future__ import annotations

import pytest
from django.core.management import call_command

from accounts.models import User
from analysis.models import AnalysisJob
from cases.models import Case
from uploads.models import Upload

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_the_contract_users_and_cases_and_is_idempotent(
    settings, django_capture_on_commit_callbacks
):
    settings.DEBUG = True
    with django_capture_on_commit_callbacks():
        call_command("seed_demo")
        call_command("seed_demo")
    assert set(User.objects.values_list("username", flat=True)) >= {"engineer", "manager", "alice", "bob"}
    alice, bob = User.objects.get(username="alice"), User.objects.get(username="bob")
    assert alice.organisation != bob.organisation
    assert alice.check_password("portal-demo")
    for organisation in (alice.organisation, bob.organisation):
        states = set(Case.objects.filter(organisation=organisation).values_list("state", flat=True))
        assert len(states) >= 2
    upload = Upload.objects.get(filename="031023-01-analyze.txt")
    assert upload.state == "stored" and upload.kind == "text_log" and len(upload.sha256) == 64
    assert AnalysisJob.objects.filter(upload=upload, state="queued").count() == 1


def test_seed_demo_uses_demo_password_from_the_environment(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.DEBUG = True
    monkeypatch.setenv("DEMO_PASSWORD", "another-demo-pass")
    with django_capture_on_commit_callbacks():
        call_command("seed_demo")
    assert User.objects.get(username="bob").check_password("another-demo-pass")
