"""What every part of the settings reads: the folders, DEBUG and the Redis address."""

from __future__ import annotations

from pathlib import Path

from config.env import env_bool, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("PORTAL_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)  # SQLite, the embedded broker and local uploads live here

DEBUG = env_bool("DEBUG", True)
# Cache, sessions and the Celery broker on Redis when set; per process and on files otherwise.
REDIS_URL = env_str("REDIS_URL", "")
