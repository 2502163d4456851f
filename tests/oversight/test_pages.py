"""The managers' pages: review queue, reports, audit trail and settings; who may open them; query counts."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from cases import services as case_services
from oversight.models import BusinessCalendar, ServiceTarget
from oversight.services import sla_sweep

pytestmark = pytest.mark.django_db


def _close(case, engineer, **fields):
    summary = {
        "problem_description": "p",
        "analysis": "the analysis",
        "resolution": "r",
        "resolution_type": "by_design",
        **fields,
    }
    return case_services.case_close(actor=engineer, case=case, **summary)


def test_review_and_reports_are_for_managers(client, manager, engineer, customer, case):
    _close(case, engineer)
    for user, status in [(customer, 403), (engineer, 403), (manager, 200)]:
        client.force_login(user)
        for url in ("/review/", "/reports/", "/audit/", "/service-levels/", "/review/export.csv"):
            assert client.get(url).status_code == status, url
    client.force_login(manager)
    assert "the analysis" in client.get("/review/?resolution_type=by_design").content.decode()
    assert "the analysis" not in client.get("/review/?resolution_type=resolved").content.decode()
    assert client.get("/review/?since=not-a-date").status_code == 200


def test_review_and_report_query_counts(
    client, manager, engineer, organisation, django_assert_max_num_queries
):
    for i in range(30):
        case = case_services.case_create(
            actor=engineer, organisation=organisation, title=f"c{i}", owner=engineer
        )
        _close(case, engineer, resolution_type="resolved")
    client.force_login(manager)
    with django_assert_max_num_queries(10):
        assert client.get("/review/").status_code == 200
    with django_assert_max_num_queries(30):
        page = client.get("/reports/")
    assert page.status_code == 200 and "30" in page.content.decode()


def test_case_page_shows_clocks_to_staff_only(client, engineer, customer, case):
    client.force_login(engineer)
    page = client.get(f"/cases/{case.number}/").content.decode()
    assert 'id="clocks"' in page and 'data-clock="first_response"' in page
    client.force_login(customer)
    assert 'id="clocks"' not in client.get(f"/cases/{case.number}/").content.decode()


def test_case_list_shows_the_sweeps_badge(client, engineer, case):

    sla_sweep()
    client.force_login(engineer)
    page = client.get("/cases/?view=all").content.decode()
    assert 'class="sla sla-' in page


def test_zero_target_is_refused_with_a_message(client, manager):
    target = ServiceTarget.objects.get(organisation__isnull=True, severity="high")
    client.force_login(manager)
    response = client.post(
        f"/service-levels/targets/{target.pk}/",
        {
            "severity": "high",
            "first_response_minutes": 0,
            "scope_minutes": 60,
            "update_minutes": 60,
            "resolution_minutes": 600,
            "warning_percent": 80,
        },
    )
    assert response.status_code == 200
    assert "A target must be at least one minute." in response.content.decode()
    target.refresh_from_db()
    assert target.first_response_minutes > 0


def test_calendar_without_working_hours_is_refused(client, manager):
    calendar = BusinessCalendar.objects.get(organisation__isnull=True)
    client.force_login(manager)
    data = {
        "name": "Default",
        "time_zone": "UTC",
        "day_start": "09:00",
        "day_end": "09:00",
        "working_days": [0, 1],
    }
    response = client.post(f"/service-levels/calendars/{calendar.pk}/", data)
    assert "A working day needs working hours" in response.content.decode()
    response = client.post(
        f"/service-levels/calendars/{calendar.pk}/", {**data, "day_end": "17:00", "working_days": []}
    )
    assert response.status_code == 200 and "field-error" in response.content.decode()
    response = client.post(
        f"/service-levels/calendars/{calendar.pk}/",
        {**data, "day_end": "17:00", "holidays": "2026-05-01 Labour Day\n2026-10-01 National Day"},
    )
    assert response.status_code == 302
    calendar.refresh_from_db()
    assert calendar.holidays.count() == 2 and calendar.working_days == [0, 1]


def test_model_validation_refuses_what_the_form_refuses():

    target = ServiceTarget(
        severity="low", first_response_minutes=0, scope_minutes=1, update_minutes=1, resolution_minutes=1
    )
    with pytest.raises(ValidationError):
        target.full_clean()
    calendar = BusinessCalendar(
        name="Empty", time_zone="UTC", working_days=[], day_start="09:00", day_end="18:00"
    )
    with pytest.raises(ValidationError):
        calendar.full_clean()


def test_audit_trail_of_a_case_and_of_a_user(client, manager, engineer, case, other_engineer):
    case_services.case_assign(actor=manager, case=case, owner=other_engineer, reason="holiday cover")
    client.force_login(manager)
    page = client.get(f"/audit/?case={case.number}").content.decode()
    # Sentences for people; the action's code and data on demand.
    assert "engineer opened the case" in page and "The case is now handled by engineer2" in page
    assert '<code class="mono">case_reassigned:' in page
    page = client.get("/audit/?user=manager").content.decode()
    assert "The case is now handled by" in page and "opened the case" not in page
    export = client.get("/audit/export.csv?user=manager&action=case_reassigned")
    text = b"".join(export.streaming_content).decode("utf-8-sig")
    assert text.count("\n") == 2 and "case_reassigned" in text and "The case is now handled by" in text
