"""The analysis workers' heartbeat: written by a worker every 30 s, read by /healthz."""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from config.caching import cache_is_shared

HEARTBEAT_KEY = "analysis:worker-heartbeat"


def heartbeat_file() -> Path:
    return Path(settings.VAR_DIR) / "analysis-worker-heartbeat.json"


def worker_heartbeat_record(*, worker: str) -> dict[str, str]:
    """Note that an analysis worker just ran a task: in the shared cache, or a file on the embedded setup."""
    payload = {"at": timezone.now().isoformat(), "worker": worker[:200]}
    if cache_is_shared():
        cache.set(HEARTBEAT_KEY, payload, timeout=None)
    else:
        target = heartbeat_file()
        temporary = target.with_suffix(".tmp")
        temporary.write_text(json.dumps(payload), encoding="utf-8")
        os.replace(temporary, target)  # atomic: /healthz never reads half a file
    return payload
