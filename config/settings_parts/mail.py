"""Mail out (Django's e-mail backend) and mail in (inbound/, docs/inbound.md)."""

from __future__ import annotations

from config.env import env_bool, env_int, env_str
from config.settings_parts.base import DEBUG, VAR_DIR

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
