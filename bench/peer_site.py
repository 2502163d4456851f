"""The peer of bench/peer.py: django-helpdesk in its own virtual environment (var/peer-venv) and a small
project mounting it as its standalone settings do, migrated and seeded with 10,000 tickets and 50,000
follow-ups in the peer's own bench database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
PEER_VENV = ROOT / "var" / "peer-venv"
# helpdesk's standalone requirements: what its own demo installs beside it.
PEER_PACKAGES = [
    "django-helpdesk",
    "Django>=5.2,<5.3",
    "django-bootstrap4-form",
    "pinax-teams",
    "akismet",
    "beautifulsoup4",
    "packaging",
    "gunicorn",
    "psycopg2-binary",
]
TICKETS, FOLLOWUPS = 10_000, 50_000


def peer_install() -> str:
    """Create var/peer-venv when missing, bring django-helpdesk to its newest release; its version."""
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--upgrade", *PEER_PACKAGES],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    found = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('django-helpdesk'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return found.stdout.strip()


_SETTINGS = '''"""A project mounting django-helpdesk as its standalone settings do (teams mode off), DEBUG off."""
import os

BASE_DIR = os.path.dirname(os.path.abspath(__file__))
SECRET_KEY = "peer-bench-" + "x" * 50
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
    "django.contrib.messages", "django.contrib.staticfiles", "django.contrib.sites", "django.contrib.humanize",
    "bootstrap4form", "helpdesk", "rest_framework",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "peersite_urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [], "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.debug", "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth", "django.contrib.messages.context_processors.messages",
    ]},
}]
WSGI_APPLICATION = "peersite_wsgi.application"
HELPDESK_TEAMS_MODE_ENABLED = False
HELPDESK_DEFAULT_SETTINGS = {
    "use_email_as_submitter": True, "email_on_ticket_assign": True, "email_on_ticket_change": True,
    "login_view_ticketlist": True, "email_on_ticket_apichange": True, "preset_replies": True,
    "tickets_per_page": 25,
}
HELPDESK_PUBLIC_ENABLED = True
HELPDESK_KB_ENABLED = True
LOGIN_URL = "helpdesk:login"
LOGIN_REDIRECT_URL = "helpdesk:home"
DATABASES = {"default": {
    "ENGINE": "django.db.backends.postgresql", "NAME": os.environ["PEER_DB_NAME"], "USER": os.environ["PEER_DB_USER"],
    "HOST": os.environ["PEER_DB_HOST"], "PORT": os.environ["PEER_DB_PORT"],
    "CONN_MAX_AGE": int(os.environ["PEER_CONN_MAX_AGE"]),
}}
SITE_ID = 1
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DEFAULT_FROM_EMAIL = SERVER_EMAIL = "helpdesk@example.com"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = os.path.join(BASE_DIR, "static")
MEDIA_ROOT = os.path.join(BASE_DIR, "media")
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
'''

_URLS = """from django.http import HttpResponse
from django.urls import include, path


def ok_auth(request):
    # The floor: a signed-in view that reads the session and the user, and nothing else.
    return HttpResponse("ok " + request.user.get_username(), content_type="text/plain")


urlpatterns = [
    path("ok-auth/", ok_auth),
    path("", include("helpdesk.urls", namespace="helpdesk")),
]
"""

_WSGI = """import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peersite_settings")
application = get_wsgi_application()
"""

# Seeds 10,000 tickets and 50,000 follow-ups with bulk inserts (random seed 16) once; then prints what the
# benchmark reads: a staff session, a ticket with five follow-ups and the rows request of the list page.
_PREPARE = """import datetime, json, os, random, re, sys, time
import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peersite_settings")
django.setup()
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count
from django.test import Client
from django.utils import timezone
from helpdesk.models import FollowUp, Queue, Ticket

TICKETS, FOLLOWUPS = int(sys.argv[1]), int(sys.argv[2])
User = get_user_model()
agent, _ = User.objects.get_or_create(username="agent", defaults={"email": "agent@example.com"})
agent.is_staff = agent.is_superuser = True
agent.set_password("agent-password-123")
agent.save()
if Ticket.objects.count() != TICKETS:
    started = time.monotonic()
    rng = random.Random(16)
    now = timezone.now()
    for name in ("created", "modified"):  # keep the spread dates bulk_create is given
        field = Ticket._meta.get_field(name)
        field.auto_now = field.auto_now_add = False
    with transaction.atomic():
        FollowUp.objects.all().delete(); Ticket.objects.all().delete(); Queue.objects.all().delete()
        queues = [Queue.objects.create(title="Customer Support", slug="support", email_address="support@example.com"),
                  Queue.objects.create(title="Escalations", slug="escalations", email_address="esc@example.com")]
        words = ["blue screen", "0xBE", "memory", "driver", "SfUemIsoSpace.sys", "dump", "terminal", "reboot"]
        tickets = []
        for n in range(TICKETS):
            created = now - datetime.timedelta(days=rng.uniform(0, 365))
            status = rng.choice([1] * 35 + [2] * 5 + [3] * 20 + [4] * 38 + [5] * 2)
            tickets.append(Ticket(
                title=f"Blue screen {rng.choice(['0xBE', '0x1A', '0xC2', '0x7E'])} on host {n}",
                queue=queues[n % 4 == 0], created=created, modified=created,
                submitter_email=f"customer{rng.randrange(50):02d}@example.com",
                assigned_to=agent if rng.random() < 0.6 else None, status=status,
                description=" ".join(rng.choices(words, k=12)), priority=rng.choice([1, 2, 3, 3, 3, 4, 5]),
                resolution="Resolved by a driver update." if status in (3, 4) else None,
            ))
        tickets = Ticket.objects.bulk_create(tickets, batch_size=2000)
        # The measured ticket has exactly five follow-ups; the others share the rest at random.
        per_ticket = [5] + [0] * (TICKETS - 1)
        for _ in range(FOLLOWUPS - 5):
            per_ticket[rng.randrange(1, TICKETS)] += 1
        followups = []
        for ticket, count in zip(tickets, per_ticket):
            for k in range(count):
                followups.append(FollowUp(
                    ticket=ticket, date=ticket.created + datetime.timedelta(hours=k + 1),
                    title="Comment", comment=" ".join(rng.choices(words, k=20)), public=rng.random() < 0.9,
                    user=agent if k % 2 else None,
                ))
        FollowUp.objects.bulk_create(followups, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"seeded {Ticket.objects.count():,} tickets, {FollowUp.objects.count():,} follow-ups "
          f"in {time.monotonic() - started:.0f} s", file=sys.stderr)
client = Client()
client.force_login(agent)
page = client.get("/tickets/").content.decode()
rows = re.search(r"/datatables_ticket_list/([A-Za-z0-9+/=_-]+)", page)
ticket = Ticket.objects.annotate(n=Count("followup")).filter(n=5).order_by("id").values_list("id", flat=True)[0]
print(json.dumps({
    "cookie": client.cookies["sessionid"].value,
    "ticket": ticket,
    "rows": f"/datatables_ticket_list/{rows.group(1)}?draw=1&start=0&length=25" if rows else None,
}))
"""


def peer_project(folder: Path) -> None:
    for name, text in {
        "peersite_settings.py": _SETTINGS,
        "peersite_urls.py": _URLS,
        "peersite_wsgi.py": _WSGI,
        "peer_prepare.py": _PREPARE,
    }.items():
        (folder / name).write_text(text)


def peer_env(database_url: str, folder: Path) -> dict[str, str]:
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if not name.endswith("_bench"):
        raise SystemExit(f"refusing to use database {name!r}: the bench database name must end in _bench")
    # The same database connection lifetime as the portal's production settings.
    from django.conf import settings

    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
        "DJANGO_SETTINGS_MODULE": "peersite_settings",
        "PYTHONPATH": str(folder),
        "PEER_DB_NAME": name,
        "PEER_DB_USER": parts.username or "postgres",
        "PEER_DB_HOST": parts.hostname or "127.0.0.1",
        "PEER_DB_PORT": str(parts.port or 5432),
        "PEER_CONN_MAX_AGE": str(settings.DATABASES["default"].get("CONN_MAX_AGE") or 0),
        "PYTHONWARNINGS": "ignore::RuntimeWarning",  # its dashboard warns of naive datetimes per request
    }


def peer_prepare(folder: Path, env: dict[str, str]) -> dict[str, object]:
    python = str(PEER_VENV / "bin" / "python")
    manage = [python, "-m", "django"]
    subprocess.run([*manage, "migrate", "--no-input", "-v0"], cwd=folder, env=env, check=True)
    subprocess.run([*manage, "collectstatic", "--no-input", "-v0"], cwd=folder, env=env, check=True)
    found = subprocess.run(
        [python, "peer_prepare.py", str(TICKETS), str(FOLLOWUPS)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    if found.stderr.strip():
        print(found.stderr.strip().splitlines()[-1])
    return json.loads(found.stdout.strip().splitlines()[-1])
