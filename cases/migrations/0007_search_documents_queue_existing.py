"""Data: queue every existing case so the search sweep builds its documents (schema in 0006)."""

from django.db import migrations
from django.utils import timezone


def queue_all(apps, schema_editor):
    Case = apps.get_model("cases", "Case")
    CaseSearchQueue = apps.get_model("cases", "CaseSearchQueue")
    now = timezone.now()
    ids = Case.objects.values_list("pk", flat=True).order_by("pk").iterator(chunk_size=5000)
    batch = []
    for case_id in ids:
        batch.append(CaseSearchQueue(case_id=case_id, touched_at=now))
        if len(batch) == 5000:
            CaseSearchQueue.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    CaseSearchQueue.objects.bulk_create(batch, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [("cases", "0006_search_documents")]

    operations = [migrations.RunPython(queue_all, migrations.RunPython.noop)]
