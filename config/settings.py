"""The one settings module: every difference between deployments comes from the environment.

With no environment set the portal runs self-contained (SQLite, a file-system Celery broker, local
files). DATABASE_URL, REDIS_URL and STORAGE_* switch to PostgreSQL, Redis and S3-compatible storage.
Every variable is listed in .env.example.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _
from django_guid.integrations import CeleryIntegration

from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PORTAL_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)  # SQLite, the embedded broker and local uploads live here

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", required=not DEBUG) or "insecure-development-key-only-for-debug"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    env_str("ALLOWED_HOSTS", required=True)  # stops start-up with a clear message
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # Full-text search and trigram lookups (cases.search); harmless on SQLite.
    "django.contrib.postgres",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "django_guid",
    "accounts",
    "cases",
    "uploads",
    "analysis",
    "oversight",
    "communications",
    "outbox",
    "inbound",
]

MIDDLEWARE = [
    # First: the request id (X-Request-ID, carried into the Celery tasks the request queues) and the
    # request metrics' clock, so even a refused request is counted and traceable.
    "django_guid.middleware.guid_middleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Then: a NUL anywhere in a request is a 400 before sessions, forms or queries see it.
    "config.middleware.RejectNulMiddleware",
    "config.metrics.QueryCountMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.content_policy.ConstantPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "accounts.middleware.UserLanguageMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]
if DEBUG:
    # make run: a URL that does not exist gets the site's 404 page, not the debug page (production's own).
    MIDDLEWARE.insert(MIDDLEWARE.index("django.contrib.messages.middleware.MessageMiddleware") + 1,
                      "config.errors.FriendlyNotFoundMiddleware")  # fmt: skip
CSRF_FAILURE_VIEW = "config.errors.csrf_failure"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "accounts.context_processors.capabilities",
            ],
        },
    },
]

# Database: SQLite by default (WAL and immediate transactions so the web process and the worker can
# write side by side), PostgreSQL when DATABASE_URL is set.
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portal.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"].endswith(".sqlite3"):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not :memory:, so the pipeline tests' real Celery worker (another process) opens the same
    # test database; one per test process (and xdist worker) so parallel runs do not delete each other's.
    _test_db = f"test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{os.getpid()}.sqlite3"
    (VAR_DIR / "test-db").mkdir(exist_ok=True)
    DATABASES["default"]["TEST"] = {
        "NAME": env_str("DATABASE_TEST_NAME", str(VAR_DIR / "test-db" / _test_db))
    }
elif env_str("DATABASE_TEST_NAME", ""):
    DATABASES["default"]["TEST"] = {"NAME": env_str("DATABASE_TEST_NAME", "")}
# django-prometheus's wrappers of the same backends count queries, errors and connections per database.
DATABASES["default"]["ENGINE"] = DATABASES["default"]["ENGINE"].replace(
    "django.db.backends.", "django_prometheus.db.backends."
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    # Fails soft (config/cache.py): a page must not fail because Redis is down; short socket timeouts so
    # an unreachable Redis costs a second, not a hung request.
    CACHES = {
        "default": {
            "BACKEND": "config.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    # Sessions are read from the shared cache and written through to the database: every signed-in
    # request skips a query. Not with a per-process cache, where a sign-out would not reach the others.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Sign-in throttling (accounts/throttling.py): failures lock the pair (user name, address) for the
# cool-off, so nobody can lock another person out, nor everyone behind one address; an address failing
# for many user names is slowed to one attempt per SIGNIN_ADDRESS_DELAY seconds, never locked. Attempts
# during a lockout are refused without extending it.
# Staff sign in with a second factor (TOTP) once they set one up; these roles must ("admin" means
# superusers). Off by default in development so the demo accounts sign in with a password only.
TWO_FACTOR_REQUIRED_ROLES = env_list("TWO_FACTOR_REQUIRED_ROLES", [] if DEBUG else ["manager", "admin"])
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Support portal")
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "accounts.views.lockout"
AXES_VERBOSE = False
# The client's address (accounts.throttling.client_address): REMOTE_ADDR, or behind this many proxies
# that append to X-Forwarded-For (1 behind the nginx of docker-compose.yml), the entry the outermost one
# wrote. 0: the header is ignored, since any client can send it. AXES_BEHIND_PROXY=1 is the old name of 1.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 1 if env_bool("AXES_BEHIND_PROXY", False) else 0)
AXES_CLIENT_IP_CALLABLE = "accounts.throttling.client_address"
SIGNIN_ADDRESS_SLOW_AFTER = env_int("SIGNIN_ADDRESS_SLOW_AFTER", 10)  # distinct user names failed
SIGNIN_ADDRESS_DELAY = env_int("SIGNIN_ADDRESS_DELAY", 10)  # seconds between its attempts then
# Single sign-on (accounts/sso.py): providers are set up per organisation in the admin. Staff may be
# limited to the staff provider (then a password no longer signs them in, nor gets them an API token).
STAFF_PASSWORD_LOGIN = env_bool("STAFF_PASSWORD_LOGIN", True)
SSO_TIMEOUT = env_int("SSO_TIMEOUT", 10)  # seconds for each call to a provider
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "cases:list"
LOGOUT_REDIRECT_URL = "accounts:login"

# Argon2id first: about 100 ms per login here against 339 ms for the PBKDF2 default (reliability.md).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = VAR_DIR / "media"

# Uploads go through Django's storage API: local files by default, S3-compatible storage when
# STORAGE_BUCKET is set, so workers on other machines read the same files.
STORAGE_BUCKET = env_str("STORAGE_BUCKET", "")
STORAGE_ENDPOINT_URL = env_str("STORAGE_ENDPOINT_URL", "")
# A download answered with a short-lived presigned address of the bucket (the bytes then never pass
# through a web process) instead of streamed by Django; the bucket must be reachable by the browsers.
STORAGE_PRESIGNED_DOWNLOADS = env_bool("STORAGE_PRESIGNED_DOWNLOADS", False)
STORAGE_PRESIGNED_EXPIRY = env_int("STORAGE_PRESIGNED_EXPIRY", 60)
if STORAGE_BUCKET:
    from botocore.config import Config as _BotoConfig

    _uploads_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": STORAGE_BUCKET,
            "endpoint_url": STORAGE_ENDPOINT_URL or None,
            "access_key": env_str("STORAGE_ACCESS_KEY", ""),
            "secret_key": env_str("STORAGE_SECRET_KEY", ""),
            "region_name": env_str("STORAGE_REGION", "") or None,
            "default_acl": None,
            "file_overwrite": False,
            # django-storages keeps a file opened for reading in memory unless told to spill it to disk.
            "max_memory_size": 8 * 1024 * 1024,
            # An unreachable bucket must fail a request in seconds, not botocore's 60 s connect time-out
            # times its retries; MinIO and most self-hosted stores want path-style addresses.
            "client_config": _BotoConfig(
                s3={
                    "addressing_style": env_str(
                        "STORAGE_ADDRESSING_STYLE", "path" if STORAGE_ENDPOINT_URL else "auto"
                    )
                },
                connect_timeout=env_int("STORAGE_CONNECT_TIMEOUT", 5),
                read_timeout=env_int("STORAGE_READ_TIMEOUT", 60),
                retries={"max_attempts": env_int("STORAGE_MAX_ATTEMPTS", 3), "mode": "standard"},
                max_pool_connections=20,
            ),
        },
    }
else:
    _uploads_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": VAR_DIR / "uploads", "base_url": None},
    }
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "uploads": _uploads_storage,
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Partial tus uploads are assembled here before they move to the uploads storage (local files); with a
# bucket only the chunk in flight passes through it.
UPLOAD_SPOOL_DIR = Path(env_str("UPLOAD_SPOOL_DIR", str(VAR_DIR / "spool")))
# With a bucket, each tus upload is a multipart upload of parts this large (at least 5 MiB; raised for
# files that would need more than 10,000 parts), sent this many at a time.
UPLOAD_PART_SIZE = env_int("UPLOAD_PART_SIZE", 16 * 1024**2)
UPLOAD_PART_CONCURRENCY = env_int("UPLOAD_PART_CONCURRENCY", 4)

# Virus scanning (optional): clamd's socket ("/run/clamav/clamd.ctl" or "tcp://host:3310"). Files are
# held until clamd answers; only a clean answer releases them. Files over CLAMAV_MAX_SIZE (clamd's 2 GiB
# stream limit) are marked not scanned; raise clamd's StreamMaxLength, MaxFileSize and MaxScanSize to match.
CLAMAV_SOCKET = env_str("CLAMAV_SOCKET", "")
CLAMAV_MAX_SIZE = env_int("CLAMAV_MAX_SIZE", 2 * 1024**3 - 1)
CLAMAV_TIMEOUT = env_int("CLAMAV_TIMEOUT", 120)

# Upload limits (bytes) and retention.
UPLOAD_MAX_SIZE = env_int("UPLOAD_MAX_SIZE", 64 * 1024**3)
UPLOAD_CASE_QUOTA = env_int("UPLOAD_CASE_QUOTA", 256 * 1024**3)
UPLOAD_ORGANISATION_QUOTA = env_int("UPLOAD_ORGANISATION_QUOTA", 1024**4)
UPLOAD_EXPIRY_HOURS = env_int("UPLOAD_EXPIRY_HOURS", 72)
UPLOAD_RETENTION_DAYS = env_int("UPLOAD_RETENTION_DAYS", 90)
# A proposed resolution unanswered this many business days closes the case as "no response" (Dynamics 365
# and Zendesk do the same), after a reminder this many business days before.
RESOLUTION_RESPONSE_DAYS = env_int("RESOLUTION_RESPONSE_DAYS", 5)
RESOLUTION_REMINDER_DAYS = env_int("RESOLUTION_REMINDER_DAYS", 2)
# tus chunk size of the upload page (nginx's client_max_body_size is one chunk plus 1 MiB).
UPLOAD_CHUNK_SIZE = env_int("UPLOAD_CHUNK_SIZE", 64 * 1024**2)
# Archive expansion limits (research/reliability.md S12); crash dumps of mostly zeroed memory compress
# far better than logs, hence a ratio above the usual 100.
UPLOAD_ARCHIVE_MAX_TOTAL = env_int("UPLOAD_ARCHIVE_MAX_TOTAL", 64 * 1024**3)
UPLOAD_ARCHIVE_MAX_RATIO = env_int("UPLOAD_ARCHIVE_MAX_RATIO", 200)
UPLOAD_ARCHIVE_MAX_MEMBERS = env_int("UPLOAD_ARCHIVE_MAX_MEMBERS", 10_000)
UPLOAD_ARCHIVE_MAX_DEPTH = env_int("UPLOAD_ARCHIVE_MAX_DEPTH", 3)
INVITATION_VALID_DAYS = env_int("INVITATION_VALID_DAYS", 14)

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "support@localhost")
# Only for EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend (bench/faults.py counts e-mails).
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))

# Mail in (inbound/, docs/inbound.md). Every notification carries a reply address of its own on
# INBOUND_DOMAIN; mail to INBOUND_SUPPORT_ADDRESS opens cases. Without a domain (production default) the
# portal sends mail without reply addresses and takes none in.
INBOUND_DOMAIN = env_str("INBOUND_DOMAIN", "localhost" if DEBUG else "").lower()
INBOUND_SUPPORT_ADDRESS = env_str(
    "INBOUND_SUPPORT_ADDRESS", f"support@{INBOUND_DOMAIN}" if INBOUND_DOMAIN else ""
).lower()
# The aiosmtpd listener (manage.py inbound_smtp; make run starts it): SMTP, or LMTP behind Postfix.
INBOUND_SMTP_HOST = env_str("INBOUND_SMTP_HOST", "127.0.0.1")
INBOUND_SMTP_PORT = env_int("INBOUND_SMTP_PORT", 8025)
INBOUND_LMTP = env_bool("INBOUND_LMTP", False)
# Mail up to this size is read; larger mail (up to INBOUND_SMTP_SIZE_LIMIT, which the listener refuses
# beyond) is answered with the upload page's link. 25 MiB is what the big mail providers accept.
INBOUND_MAX_MESSAGE_SIZE = env_int("INBOUND_MAX_MESSAGE_SIZE", 25 * 1024**2)
INBOUND_SMTP_SIZE_LIMIT = env_int("INBOUND_SMTP_SIZE_LIMIT", 100 * 1024**2)
# IMAP polling for sites that cannot route mail to the listener: imaps://user:password@host/INBOX.
INBOUND_IMAP_URL = env_str("INBOUND_IMAP_URL", "")
INBOUND_IMAP_INTERVAL = env_int("INBOUND_IMAP_INTERVAL", 60)
# New cases by e-mail are opened as the sender only when our own MTA's Authentication-Results header
# (this authserv-id) says SPF, DKIM or DMARC passed for the From domain; otherwise staff decide.
INBOUND_REQUIRE_AUTH = env_bool("INBOUND_REQUIRE_AUTH", not DEBUG)
INBOUND_AUTHSERV_ID = env_str("INBOUND_AUTHSERV_ID", "").lower()
# A reply address stops working this many days after its case closed (the reply goes to staff).
INBOUND_REPLY_EXPIRY_DAYS = env_int("INBOUND_REPLY_EXPIRY_DAYS", 30)
# At most this many automatic answers (acknowledgements, refusals) to one address per hour: a last guard
# against a loop with a responder that marks its mail as nothing automatic.
INBOUND_AUTO_ANSWERS_PER_HOUR = env_int("INBOUND_AUTO_ANSWERS_PER_HOUR", 5)
# Raw messages are kept this many days after they were handled (staff download the original).
INBOUND_RETENTION_DAYS = env_int("INBOUND_RETENTION_DAYS", 90)
INBOUND_MAX_ATTEMPTS = 3

REST_FRAMEWORK = {
    # Token first: an unauthenticated request then gets 401 with WWW-Authenticate, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.tokens.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.SharedCountPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "cases.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# API tokens expire this many days after they were made (accounts/tokens.py); a password change or a
# deactivation revokes them at once.
API_TOKEN_EXPIRY_DAYS = env_int("API_TOKEN_EXPIRY_DAYS", 90)
# The OpenAPI schema and Swagger UI describe every path and field: signed-in users only in production,
# unless a deployment opens them on purpose.
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", DEBUG)
# /healthz shows which part failed, the workers and the outbox to staff and to this bearer token only.
HEALTH_TOKEN = env_str("HEALTH_TOKEN", "")
SPECTACULAR_SETTINGS = {
    "TITLE": "Support case portal API",
    "DESCRIPTION": "Cases, uploads (tus 1.0 at /api/cases/<number>/uploads/tus/) and crash findings.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from our own static files: no CDN is reachable from customers' networks or here.
    # Several models have a "state" field with different choices: name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "CaseStateEnum": "cases.models.State",
        "UploadStateEnum": "uploads.models.Upload.State",
        "AnalysisJobStateEnum": "analysis.models.AnalysisJob.State",
        "DeliveryStateEnum": "communications.models.EmailDelivery.State",
        "UploadKindEnum": "uploads.models.Upload.Kind",
        "TimelineKindEnum": "cases.models.TimelineEntry.Kind",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

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

# Content Security Policy: pages load scripts and styles from our own origin only (no inline code).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Metrics (config/metrics.py): /metrics answers a scraper with this bearer token, or from these addresses
# (REMOTE_ADDR, e.g. "10.0.0.0/8"); with neither, nobody.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
METRICS_ALLOWED_ADDRESSES = env_list("METRICS_ALLOWED_ADDRESSES", [])
PROMETHEUS_METRIC_NAMESPACE = ""
PROMETHEUS_EXPORT_MIGRATIONS = False

# Request ids: X-Request-ID from the client when it is a UUID (anything else is replaced: it goes into
# logs), returned on the response, carried into the Celery tasks a request queues (CeleryIntegration).
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
