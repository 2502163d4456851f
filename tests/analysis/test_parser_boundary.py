"""STYLE.md rule 7: the parsers and rules load without Django, Celery or a database driver."""

from __future__ import annotations

import subprocess
import sys

from tests.analysis.dump_fixtures import REPO_ROOT

SCRIPT = """
import sys
import analysis.parsers, analysis.rules, analysis.parsers.kernel_dump, analysis.parsers.user_dump
import analysis.rules.cross, analysis.rules.per_crash, analysis.rules.enrich
from analysis.__main__ import main
loaded = sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'celery', 'rest_framework', 'psycopg2'})
print(','.join(loaded))
"""


def test_parsers_and_rules_import_without_django() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
