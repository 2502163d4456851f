"""Celery, the outbox and the periodic tasks."""

from __future__ import annotations

from pathlib import Path

from config.env import env_int, env_str
from config.settings_parts.base import REDIS_URL, VAR_DIR
from config.settings_parts.mail import INBOUND_IMAP_INTERVAL, INBOUND_IMAP_URL

# Celery. Each reliability setting has its reason (research/reliability.md section 2).
CELERY_BROKER_URL = REDIS_URL or "filesystem://localhost/"
if not REDIS_URL:
    # Embedded broker: messages are files in a folder that the web process and the worker share.
    # It deletes a message when a worker takes it, so a worker killed as a whole loses its unacked
    # messages: the reconciler (analysis.tasks.jobs_reconcile) publishes such jobs again after their lease.
    _broker_dir = Path(env_str("CELERY_BROKER_DIR", str(VAR_DIR / "celery-broker")))
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        # Exchange bindings; kombu's default is "control" in the current directory.
        "control_folder": str(_broker_dir / "control"),
        # kombu polls the folder once a second by default, and with prefetch 1 a worker waits for the next
        # poll after every task: about 1 s per job (measured 1.0 jobs/s). Ten listings a second are cheap.
        "polling_interval": 0.1,
    }
    # kombu's transport with atomic message files: the stock one can hand a worker a half-written file,
    # which stops the worker (config/broker.py).
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
CELERY_TASK_IGNORE_RESULT = True  # job state lives on our own rows, not in a result backend
# A task is acknowledged when it ends, and put back when its worker process dies mid-task; with the
# default early ack a killed pool child loses its job for good (measured: 1 of 10 lost).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Parsing jobs are long: a worker reserves one at a time so no job waits behind a busy process.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Upper bound of any task's hard limit; per-job limits scale with the file size below this.
ANALYSIS_SOFT_TIME_LIMIT_BASE = env_int("ANALYSIS_SOFT_TIME_LIMIT_BASE", 60)
ANALYSIS_SOFT_TIME_LIMIT_PER_GB = env_int("ANALYSIS_SOFT_TIME_LIMIT_PER_GB", 60)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 900)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30
# A message not acknowledged within the visibility timeout is delivered again: it must be at least twice
# the longest hard time limit or a slow job runs twice (measured: 62 runs for 10 jobs when too short).
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 2 * CELERY_TASK_TIME_LIMIT + 60)
if REDIS_URL:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
        # kombu's default sweep restores a dead worker's messages after about 100 s; 5 s x 1 brings a
        # whole-worker crash back in about 30 s (measured: 110.9 s against 31.6 s).
        "unacked_restore_interval": 5,
        "unacked_restore_throttle": 1,
        # A publish to an unreachable host fails in 2 s instead of hanging the request that made it (the
        # outbox keeps the message for the dispatcher).
        "socket_connect_timeout": 2,
    }
CELERY_TASK_DEFAULT_QUEUE = "default"
# Parsing has its own queue so e-mails and housekeeping are never starved behind big dumps.
CELERY_TASK_ROUTES = {"analysis.tasks.*": {"queue": "analysis"}}
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int("CELERY_WORKER_MAX_MEMORY_PER_CHILD", 1_000_000)  # KiB
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Reconnects to a broker that went away every 3 s at most (kombu's default grows to 30 s).
CELERY_WORKER_CONSUMER = "config.celery:Consumer"
CELERY_TIMEZONE = "UTC"
# The outbox (outbox/services.py): the dispatcher publishes what the broker could not take at commit time
# and what it or a dead worker lost; every few seconds so recovery after an outage takes seconds.
OUTBOX_DISPATCH_INTERVAL = env_int("OUTBOX_DISPATCH_INTERVAL", 5)
# A message in the broker this long that no worker holds is published again (a worker killed while
# holding it for a countdown); longer than any queue wait expected here.
OUTBOX_REDISPATCH_AFTER = env_int("OUTBOX_REDISPATCH_AFTER", 300)
OUTBOX_MAX_DISPATCHES = env_int("OUTBOX_MAX_DISPATCHES", 5)
OUTBOX_KEEP_DAYS = env_int("OUTBOX_KEEP_DAYS", 7)
# How often the analysis reconciler looks for jobs a dead worker left running (it asks the workers).
ANALYSIS_RECONCILE_INTERVAL = env_int("ANALYSIS_RECONCILE_INTERVAL", 10)
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # A dispatch message that waited longer than its period is useless: the next one is already queued.
    "outbox-dispatch": {
        "task": "outbox.tasks.outbox_dispatch",
        "schedule": float(OUTBOX_DISPATCH_INTERVAL),
        "options": {"expires": max(OUTBOX_DISPATCH_INTERVAL * 2, 10)},
    },
    "outbox-purge": {"task": "outbox.tasks.outbox_purge", "schedule": 3600.0},
    "uploads-expire-partials": {"task": "uploads.tasks.upload_expire_sweep", "schedule": 3600.0},
    "uploads-retention": {"task": "uploads.tasks.upload_retention_sweep", "schedule": 6 * 3600.0},
    # Uploads whose every byte arrived but whose completion failed are finished by the server.
    "uploads-finish-stranded": {"task": "uploads.tasks.upload_finish_sweep", "schedule": 300.0},
    # Publishes again jobs whose message was lost (died between commit and publish, broker down, worker
    # killed as a whole on the embedded broker).
    "analysis-jobs-reconcile": {
        "task": "analysis.tasks.jobs_reconcile",
        "schedule": float(ANALYSIS_RECONCILE_INTERVAL),
        "options": {"expires": max(ANALYSIS_RECONCILE_INTERVAL * 2, 20)},
    },
    # "Seen in N other cases" counters recomputed from the crashes; the pipeline keeps them in between.
    "analysis-marks-rebuild": {"task": "analysis.tasks.marks_rebuild", "schedule": 24 * 3600.0},
    # Service-level clocks: snapshots for lists and reports, warnings and breaches e-mailed once.
    "oversight-sla-sweep": {"task": "oversight.tasks.sla_sweep", "schedule": 60.0},
    # Proposed resolutions: a reminder, then closing as "no response" when nobody answered.
    "cases-resolutions-sweep": {"task": "cases.tasks.resolutions_sweep", "schedule": 900.0},
    # Mail in: messages whose task was lost are queued again; a mailbox is polled; old raw mail removed.
    "inbound-reconcile": {"task": "inbound.tasks.inbound_reconcile", "schedule": 120.0},
    "inbound-retention": {"task": "inbound.tasks.inbound_retention_sweep", "schedule": 6 * 3600.0},
    # Runs on an analysis worker; /healthz reads its age to tell whether any worker takes tasks.
    "analysis-worker-heartbeat": {"task": "analysis.tasks.worker_heartbeat", "schedule": 30.0},
    # Search documents of the cases written since the last sweep: search lags a write by these seconds.
    "cases-search-sweep": {"task": "cases.tasks.search_sweep", "schedule": 5.0},
}
if INBOUND_IMAP_URL:
    CELERY_BEAT_SCHEDULE["inbound-imap-poll"] = {
        "task": "inbound.tasks.inbound_imap_poll",
        "schedule": float(INBOUND_IMAP_INTERVAL),
    }
ANALYSIS_MAX_ATTEMPTS = 3
