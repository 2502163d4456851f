"""Metrics, request ids, logs and error reporting."""

from __future__ import annotations

from django_guid.integrations import CeleryIntegration

from config.env import env_list, env_str
from config.settings_parts.base import DEBUG

# Metrics (config/metrics.py): /metrics answers a scraper with this bearer token, or from these addresses
# (REMOTE_ADDR, e.g. "10.0.0.0/8"); with neither, nobody.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
METRICS_ALLOWED_ADDRESSES = env_list("METRICS_ALLOWED_ADDRESSES", [])
PROMETHEUS_METRIC_NAMESPACE = ""
PROMETHEUS_EXPORT_MIGRATIONS = False

# Request ids: X-Request-ID from the client when it is a UUID (anything else is replaced: it goes into
# logs), returned on the response (config.request_id), carried into the Celery tasks a request queues
# (django-guid's CeleryIntegration; its header settings serve the tasks' ids).
DJANGO_GUID = {
    "GUID_HEADER_NAME": "X-Request-ID",
    "VALIDATE_GUID": True,
    "RETURN_HEADER": True,
    "EXPOSE_HEADER": False,
    "INTEGRATIONS": [CeleryIntegration(use_django_logging=True, log_parent=True)],
}

# Logs: JSON lines (one object per record, with the request id and, in tasks, the Celery ids) by default
# with DEBUG off, for a log shipper; readable text in development.
LOG_FORMAT = env_str("LOG_FORMAT", "text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "django_guid.log_filters.CorrelationId", "correlation_id_field": "request_id"},
        "celery_tracing": {"()": "django_guid.integrations.celery.log_filters.CeleryTracing"},
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(celery_current_id)s %(celery_parent_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT if LOG_FORMAT in {"json", "text"} else "text",
            "filters": ["request_id", "celery_tracing"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "minidump": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # django-guid logs every id it sets or refuses at INFO.
        "django_guid": {"level": "WARNING"},
    },
}

# Error reporting (optional): with a DSN, unhandled errors of web requests and tasks go to Sentry (or a
# compatible service), without personal data; traces only when a sample rate is set.
SENTRY_DSN = env_str("SENTRY_DSN", "")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration as _SentryCelery
    from sentry_sdk.integrations.django import DjangoIntegration as _SentryDjango

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        integrations=[_SentryDjango(), _SentryCelery()],
        environment=env_str("SENTRY_ENVIRONMENT", "production" if not DEBUG else "development"),
        traces_sample_rate=float(env_str("SENTRY_TRACES_SAMPLE_RATE", "0") or 0),
        send_default_pii=False,
    )
