"""The settings (DJANGO_SETTINGS_MODULE=config.settings): every difference between deployments comes
from the environment. Mail, Celery and observability are in config/settings_parts, gathered here.

With no environment set the portal runs self-contained (SQLite, a file-system Celery broker, local
files). DATABASE_URL, REDIS_URL and STORAGE_* switch to PostgreSQL, Redis and S3-compatible storage.
Every variable is listed in .env.example.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.utils.translation import gettext_lazy as _

from config.env import env_bool, env_int, env_list, env_str

# The folders, DEBUG and REDIS_URL first (every part reads them); then mail, Celery and observability,
# each in a module of config/settings_parts; this module holds the web application's own settings.
from config.settings_parts.base import BASE_DIR as BASE_DIR
from config.settings_parts.base import DEBUG as DEBUG
from config.settings_parts.base import REDIS_URL as REDIS_URL
from config.settings_parts.base import VAR_DIR as VAR_DIR
from config.settings_parts.mail import *  # noqa: F403 - a settings module gathers its parts' names
from config.settings_parts.observability import *  # noqa: F403
from config.settings_parts.tasks import *  # noqa: F403

# ModelAdmin[User], QuerySet[Case], ModelForm[User]...: the generic classes the type checker reads
# (django-stubs) subscripted at run time too.
django_stubs_ext.monkeypatch()

SECRET_KEY = env_str("SECRET_KEY", required=not DEBUG) or "insecure-development-key-only-for-debug"
# Former keys, comma-separated: sessions, signed reply addresses and tokens made with them stay valid
# while a new SECRET_KEY is rolled out.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])
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
    "config.request_id.RequestIdMiddleware",
    "config.metrics.RequestMetricsMiddleware",
    # Then: a NUL anywhere in a request is a 400 before sessions, forms or queries see it.
    "config.middleware.RejectNulMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.content_policy.ConstantPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "accounts.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.StampedOTPMiddleware",
    "accounts.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]
if DEBUG:
    # make run: a URL that does not exist gets the site's 404 page, not the debug page (production's own).
    MIDDLEWARE.insert(MIDDLEWARE.index("django.contrib.messages.middleware.MessageMiddleware") + 1,
                      "config.errors.FriendlyNotFoundMiddleware")  # fmt: skip
CSRF_FAILURE_VIEW = "config.errors.csrf_failure"
# Flash messages in the session every visitor has: the default tries a signed cookie first, and derives
# its signing key on every request, messages or not (a sixteenth of the smallest signed-in request).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

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
    "accounts.backends.UserBackend",
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
# The font summary PDFs are set in (a TrueType font with Chinese glyphs); empty: the first of WenQuanYi
# Micro Hei, Zen Hei or Droid Sans Fallback installed, else reportlab's built-in STSong-Light.
OVERSIGHT_PDF_FONT = env_str("OVERSIGHT_PDF_FONT", "")
# tus chunk size of the upload page (nginx's client_max_body_size is one chunk plus 1 MiB).
UPLOAD_CHUNK_SIZE = env_int("UPLOAD_CHUNK_SIZE", 64 * 1024**2)
# Archive expansion limits (research/reliability.md S12); crash dumps of mostly zeroed memory compress
# far better than logs, hence a ratio above the usual 100.
UPLOAD_ARCHIVE_MAX_TOTAL = env_int("UPLOAD_ARCHIVE_MAX_TOTAL", 64 * 1024**3)
UPLOAD_ARCHIVE_MAX_RATIO = env_int("UPLOAD_ARCHIVE_MAX_RATIO", 200)
UPLOAD_ARCHIVE_MAX_MEMBERS = env_int("UPLOAD_ARCHIVE_MAX_MEMBERS", 10_000)
UPLOAD_ARCHIVE_MAX_DEPTH = env_int("UPLOAD_ARCHIVE_MAX_DEPTH", 3)
INVITATION_VALID_DAYS = env_int("INVITATION_VALID_DAYS", 14)


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
# No report-only policy beside it (django-csp's default, named so the middleware reads it as a setting).
CONTENT_SECURITY_POLICY_REPORT_ONLY: dict[str, object] | None = None

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
