"""Marks and counters for the crashes already stored (data only; the schema is 0004)."""

from django.db import migrations

FILL = [
    'INSERT INTO analysis_casemark (case_id, kind, "key") '
    "SELECT DISTINCT case_id, 'driver', name FROM analysis_crashdriver",
    'INSERT INTO analysis_casemark (case_id, kind, "key") '
    "SELECT DISTINCT case_id, 'signature', signature_module FROM analysis_crash WHERE signature_module <> ''",
    'INSERT INTO analysis_markcount (kind, "key", cases) '
    'SELECT kind, "key", COUNT(*) FROM analysis_casemark GROUP BY kind, "key"',
]


class Migration(migrations.Migration):
    dependencies = [("analysis", "0004_cross_case_counts")]

    operations = [
        migrations.RunSQL(FILL, reverse_sql=["DELETE FROM analysis_markcount", "DELETE FROM analysis_casemark"])
    ]
