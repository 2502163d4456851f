"""Side by side with the nearest peer: the portal and django-helpdesk on the same machine, data sizes and serving.

usage: python bench/peer.py [--database-url postgres://postgres@127.0.0.1:5432/portal_bench]
                            [--peer-database-url postgres://postgres@127.0.0.1:5432/helpdesk_bench]
                            [--duration 10] [--rounds 3] [--connections 8] [--port 8870]

django-helpdesk (its newest release on the package index) is installed in a virtual environment of its own
under ``var/peer-venv`` (never a dependency of the portal), mounted in a small Django project this script
writes to a temporary folder (settings modelled on helpdesk's standalone ones, DEBUG off, persistent
database connections as the portal's), and seeded once with bulk inserts at the portal's sizes: 10,000
tickets and 50,000 follow-ups (the portal: bench/load.py's 10,000 cases with 50,000 timeline entries,
uploads and crashes). Both are served the same way: PostgreSQL, nginx in front of gunicorn with 2 sync
workers. wrk runs against both with a signed-in staff session (the portal's manager, the peer's staff
agent), in interleaved rounds (portal, peer, next page, ...), and the median of the rounds is printed, one
line per page:

  case list  the portal's list page; the peer's list page plus the rows request its table makes, counted as
             whole lists per second (1 / (1/page + 1/rows))
  case page  a case with five timeline entries whose drivers thousands of other cases share; a ticket
             with five follow-ups
  api        /api/cases/ and /api/tickets/ (first page)
  reports    /reports/ and helpdesk's dashboard
  floor      the smallest signed-in view of each: the portal's case version endpoint (session, user and
             one query; the live case page polls it), the peer's view that reads session and user (added
             to its project here, as helpdesk has none). /healthz is not a floor: it never reads a session.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import load

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
PAGES = ["case list", "case page", "api", "reports", "floor"]
# The peer's API takes seconds per request (its first answers come after ~15 s at 8 connections on a busy
# machine): its runs are longer on both sides, so that enough requests finish to count.
MIN_SECONDS = {"api": 45}


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


def _peer_env(database_url: str, folder: Path) -> dict[str, str]:
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


@contextmanager
def peer_served(folder: Path, env: dict[str, str], *, workers: int, port: int) -> Iterator[tuple[str, int]]:
    """The peer as the portal is served: nginx in front of gunicorn's sync workers."""
    upstream = port + 1
    server = subprocess.Popen(
        # A longer timeout than gunicorn's 30 s: the peer's API takes seconds per request, and a killed
        # worker would be measured as a restart, not as the peer.
        [str(PEER_VENV / "bin" / "gunicorn"), "peersite_wsgi", "-b", f"127.0.0.1:{upstream}", "-w", str(workers),
         "--timeout", "300", "--log-level", "warning"],
        cwd=folder,
        env=env,
        start_new_session=True,
    )  # fmt: skip
    proxy = load._nginx_start(folder / "nginx", port=port, upstream=upstream)
    base = f"http://127.0.0.1:{port}"
    try:
        for _attempt in range(100):
            try:
                urllib.request.urlopen(f"{base}/login/", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        yield base, server.pid
    finally:
        proxy.terminate()
        proxy.wait(20)
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)


def _portal_manager_cookie() -> str:
    """A manager's session that has passed two-factor sign-in (managers must, with DEBUG off), as a
    manager who signed in with a code carries."""
    from django.test import Client
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User

    manager, _ = User.objects.get_or_create(username="bench-manager", defaults={"role": User.Role.MANAGER})
    device, _ = TOTPDevice.objects.get_or_create(
        user=manager, name="authenticator", defaults={"confirmed": True}
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(manager)
    session = client.session
    session["otp_device_id"] = device.persistent_id  # what django_otp.login records
    session.save()
    return session.session_key


def _require_ok(url: str, cookie: str) -> None:
    """wrk counts a redirect as a success: every measured page must answer 200 itself."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            return None

    request = urllib.request.Request(url, headers=dict([cookie.split(": ", 1)]))
    try:
        status = urllib.request.build_opener(NoRedirect).open(request, timeout=120).status
    except urllib.error.HTTPError as error:
        status = error.code
    if status != 200:
        raise SystemExit(f"{url} answers {status}, not 200")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal_bench"),
        help="the portal's bench database (bench/load.py's; seeded when empty)",
    )
    parser.add_argument(
        "--peer-database-url",
        default=os.environ.get("PEER_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/helpdesk_bench"),
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds of each measured wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--port", type=int, default=8870, help="portal on PORT, peer on PORT+2 (+1: gunicorn)"
    )
    args = parser.parse_args()

    version = peer_install()
    load._database_ensure(args.peer_database_url)
    folder = Path(tempfile.mkdtemp(prefix="peer-bench-"))
    try:
        with load.bench_portal(args.database_url, prefix="portal-peer-") as prepared:
            peer_project(folder)
            env = _peer_env(args.peer_database_url, folder)
            peer = peer_prepare(folder, env)
            if not peer["rows"]:
                raise SystemExit("the peer's list page names no rows request: has its template changed?")
            case = prepared.seed["case"]
            portal_cookie = f"Cookie: sessionid={_portal_manager_cookie()}"
            peer_cookie = f"Cookie: sessionid={peer['cookie']}"
            portal_paths = {
                "case list": ["/cases/?view=all"],
                "case page": [f"/cases/{case}/"],
                "api": ["/api/cases/"],
                "reports": ["/reports/"],
                "floor": [f"/cases/{case}/version/"],
            }
            peer_paths = {
                "case list": ["/tickets/", peer["rows"]],
                "case page": [f"/tickets/{peer['ticket']}/"],
                "api": ["/api/tickets/"],
                "reports": ["/dashboard/"],
                "floor": ["/ok-auth/"],
            }
            with (
                load.served(prepared, workers=args.workers, port=args.port) as portal,
                peer_served(folder, env, workers=args.workers, port=args.port + 2) as (peer_base, peer_pid),
            ):
                masters = {"portal": portal.server.pid, "peer": peer_pid}
                _compare(
                    args,
                    version,
                    portal.base,
                    portal_cookie,
                    portal_paths,
                    peer_base,
                    peer_cookie,
                    peer_paths,
                    masters,
                )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _workers_cpu(master: int) -> float:
    """CPU seconds used so far by the gunicorn workers of this master (children in /proc)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:  # ppid
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _wait_quiet(master: int, limit: float = 300.0) -> None:
    """Wait until the side's workers are idle: requests queued by the last run (a slow page's backlog goes
    on after wrk stops) must not be measured as the next page's time. Other work on the machine does not
    count, only these workers' CPU."""
    deadline = time.monotonic() + limit
    before = _workers_cpu(master)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = _workers_cpu(master)
        if now - before < 0.05:
            return
        before = now


def _compare(
    args, version, portal, portal_cookie, portal_paths, peer, peer_cookie, peer_paths, masters
) -> None:  # type: ignore[no-untyped-def]
    """Interleaved rounds (each page: portal then peer), a discarded warm-up first; medians printed."""
    runs: dict[tuple[str, str], list[float]] = {}
    targets = [
        (side, page, base + path, cookie)
        for page in PAGES
        for side, base, cookie, paths in (
            ("portal", portal, portal_cookie, portal_paths),
            ("peer", peer, peer_cookie, peer_paths),
        )
        for path in paths[page]
    ]
    print(
        f"\nportal against django-helpdesk {version}: {TICKETS:,} tickets / {FOLLOWUPS:,} follow-ups against "
        f"bench/load.py's data; nginx -> gunicorn sync x{args.workers} for both, wrk -c{args.connections}, "
        f"{args.duration} s runs, median of {args.rounds} interleaved rounds; load average before: "
        f"{_load_average()}"
    )
    for side, _page, url, cookie in targets:
        _require_ok(url, cookie)
        _wait_quiet(masters[side])
        figures = load._wrk(url, cookie, 3, args.connections)  # warm-up: caches, connections, imports
        if figures["errors"]:
            raise SystemExit(f"{url} answers errors: {figures}")
    for _round in range(args.rounds):
        for side, page, url, cookie in targets:
            _wait_quiet(masters[side])
            figures = load._wrk(url, cookie, max(args.duration, MIN_SECONDS.get(page, 0)), args.connections)
            runs.setdefault((side, url), []).append(figures["rps"])
            if figures["errors"] or figures["timeouts"]:
                print(
                    f"  ({side} {page}: {int(figures['errors'])} errors, {int(figures['timeouts'])} timeouts)"
                )
    medians = {key: statistics.median(values) for key, values in runs.items()}
    print()
    for page in PAGES:
        portal_rps = statistics.median(runs[("portal", portal + portal_paths[page][0])])
        peer_parts = [medians[("peer", peer + path)] for path in peer_paths[page]]
        if len(peer_parts) == 1:
            peer_rps, unit = peer_parts[0], "req/s"
        else:
            # One list needs both requests, one after the other: lists/s = 1 / sum of the seconds each takes.
            peer_rps, unit = 1 / sum(1 / part for part in peer_parts), "full lists/s"
        ratio = f"{portal_rps / peer_rps:.2f}" if peer_rps else "n/a (no peer request finished: run longer)"
        print(f"{page}: portal {portal_rps:.1f} req/s, peer {peer_rps:.1f} {unit}, ratio {ratio}")
    print(
        f"\n(peer's list: page {medians[('peer', peer + peer_paths['case list'][0])]:.1f} req/s, rows request "
        f"{medians[('peer', peer + peer_paths['case list'][1])]:.1f} req/s; load average after: {_load_average()})"
    )


if __name__ == "__main__":
    main()
