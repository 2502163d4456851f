"""Celery tasks of the analysis pipeline: thin, take ids, own the retry policy (STYLE.md rule 5)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="analysis.tasks.analyse_upload", bind=True)
def analyse_upload(self, job_id: int) -> None:
    """Run the parsers on the job's upload and record the outcome (the full pipeline lands next)."""
    return None
