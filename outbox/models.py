"""The transactional outbox: every message that must leave the database (task messages, notifications,
e-mails) is first a row written in the same transaction as the change it announces."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class OutboxMessage(models.Model):
    """One Celery task message to publish, and how far it got: ``pending`` (not published yet: the
    broker was down, or the committing process died), ``dispatched`` (in the broker), ``started`` (a
    worker runs it, or it waits for a retry), ``done`` (the task ended, whatever it returned) or
    ``failed`` (published too many times without ever ending)."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for the broker")
        DISPATCHED = "dispatched", _("In the broker")
        STARTED = "started", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Given up")

    # The idempotency key: one row per logical message, so publishing twice is a no-op.
    key = models.CharField(max_length=200, unique=True)
    task = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    # apply_async options: countdown, soft_time_limit, time_limit, queue.
    options = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    # When a worker last reported on it (start, retry); an orphan is judged from here.
    seen_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    dispatches = models.PositiveIntegerField(default=0)
    # The broker's identity when last published (Redis run_id): a restarted, empty Redis has another.
    broker_epoch = models.CharField(max_length=64, blank=True)
    task_id = models.CharField(max_length=100, blank=True, db_index=True)
    worker = models.CharField(max_length=200, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["state", "id"],
                condition=Q(state__in=["pending", "dispatched", "started"]),
                name="outbox_open",
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"
