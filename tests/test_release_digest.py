"""Everything cached as HTML is keyed by a digest of what renders it (config.caching.release_digest): a
deploy that changes a template, the code, a translation or a stylesheet never serves the old HTML."""

from __future__ import annotations

import pytest

from config import caching

# The function itself, uncached (tests/conftest.py gives each test a release of its own instead).
DIGEST = caching.release_digest.__wrapped__


@pytest.mark.parametrize("path", ["templates/base.html", "cases/views.py", "static/css/portal.css"])
def test_a_changed_file_is_a_new_release(tmp_path, settings, path):
    settings.BASE_DIR = tmp_path
    target = tmp_path / path
    target.parent.mkdir(parents=True)
    target.write_text("one")
    before = DIGEST()
    target.write_text("two")
    assert DIGEST() != before


def test_migrations_are_not_part_of_a_release(tmp_path, settings):
    settings.BASE_DIR = tmp_path
    migration = tmp_path / "cases" / "migrations" / "0001_initial.py"
    migration.parent.mkdir(parents=True)
    migration.write_text("one")
    before = DIGEST()
    migration.write_text("two")
    assert DIGEST() == before
