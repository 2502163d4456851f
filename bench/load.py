"""Load benchmark: 10,000 cases, 50,000 uploads, crashes and timeline entries, 200,000 findings in
PostgreSQL, nginx, gunicorn, wrk.

usage: python bench/load.py [--database-url postgres://postgres@127.0.0.1:5432/portal_bench]
                            [--duration 15] [--users 50] [--think 1-5 0.5-1.5] [--connections 8 50]
                            [--workers 2] [--port 8765] [--skip-load]

Works in its own database (the name must end in ``_bench``; created when missing, never the test or dev
database), seeds it once with bulk_create in a real site's shape (bench/seedshape.py: drivers shared by
thousands of cases or by few, long timelines, organisations of very different sizes), counts the queries of each measured page for a customer who
sees 10 cases and an engineer who sees 10,000 (the larger may cost no more), then serves it as production does
(nginx in front of gunicorn's sync workers, production settings, DEBUG off) on 127.0.0.1 and runs wrk
against the case list page, a case page and the cases API, printing requests/s and p50/p95/p99 latency:
first as 50 concurrent users who each pause between requests (a think time, as locust's users do), then
closed-loop at 8 and 50 connections without pause, the saturation throughput. Needs ``wrk`` and
``nginx`` (Debian: wrk, nginx-light); ``make bench`` installs them when it can.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import load_seed

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-" + "k" * 60


def _database_ensure(url: str) -> None:
    import psycopg2

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name.endswith("_bench"):
        raise SystemExit(f"refusing to use database {name!r}: the bench database name must end in _bench")
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        exists = cursor.fetchone() is not None
        if exists and _seed_outdated(url):
            # An older seed (without crashes, shared drivers or timelines) would measure another site.
            cursor.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            print(f"dropped database {name}: its seed is older than this script's")
            exists = False
        if not exists:
            cursor.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")
    conn.close()


def _seed_outdated(url: str) -> bool:
    import psycopg2

    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT to_regclass('accounts_organisation') IS NOT NULL")
            if not cursor.fetchone()[0]:
                return False
            cursor.execute("SELECT name FROM accounts_organisation WHERE slug = 'bench-small'")
            row = cursor.fetchone()
            return row is not None and row[0] != load_seed.SEED_MARK
    finally:
        conn.close()


def _django(env: dict[str, str]) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _query_counts(seed: dict[str, object]) -> None:
    """Queries per request for the same engineer over 10 cases (one organisation's filter) and over all
    10,000; and a case page of the small organisation against one of a large one. The large must cost no
    more than the small."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from rest_framework.authtoken.models import Token

    from cases.models import Case

    engineer = seed["engineer"]
    token, _ = Token.objects.get_or_create(user=engineer)
    big_case = Case.objects.exclude(organisation__slug="bench-small").order_by("number").first()
    pairs = [
        ("case list page", "/cases/?organisation=bench-small", "/cases/"),
        ("case page", f"/cases/{seed['case']}/", f"/cases/{big_case.number}/"),
        ("cases API", "/api/cases/?organisation=bench-small", "/api/cases/"),
    ]
    from django.db.models import Count

    from analysis.models import CrashDriver

    shared = (
        CrashDriver.objects.filter(case__number=seed["case"])
        .values_list("name", flat=True)
        .distinct()
        .order_by("name")
    )
    seen = dict(
        CrashDriver.objects.filter(name__in=list(shared))
        .values("name")
        .annotate(n=Count("case", distinct=True))
        .values_list("name", "n")
    )
    print(
        f"\nthe measured case page ({seed['case']}) shows drivers seen in other cases: "
        + ", ".join(f"{name} {n - 1:,}" for name, n in sorted(seen.items(), key=lambda item: -item[1]))
    )
    print("\nqueries per request, same engineer: 10 cases vs 10,000 cases")
    for label, small, large in pairs:
        counts = []
        for path in (small, large):
            client = Client(HTTP_HOST="127.0.0.1")
            client.force_login(engineer)
            headers = {"HTTP_AUTHORIZATION": f"Token {token.key}"} if path.startswith("/api/") else {}
            client.get(path, **headers)  # warm: cached settings are read once per process, not per page
            with CaptureQueriesContext(connection) as queries:
                response = client.get(path, **headers)
            assert response.status_code == 200, (path, response.status_code)
            counts.append(len(queries))
        # A count of 5,000 cases or more is shared (config/pagination.py): the large list may run one fewer.
        verdict = "constant" if counts[1] <= counts[0] else "GROWS"
        print(f"  {label:<16} 10 cases: {counts[0]:>3}   10,000 cases: {counts[1]:>3}   {verdict}")


def verified_manager_client(username: str):  # -> django.test.Client, once Django is set up
    """A test client signed in as a manager who passed two-factor sign-in (managers must, with DEBUG off):
    the session holds the device, as ``django_otp.login`` records it."""
    from django.test import Client
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User

    manager, _ = User.objects.get_or_create(username=username, defaults={"role": User.Role.MANAGER})
    device, _ = TOTPDevice.objects.get_or_create(
        user=manager, name="authenticator", defaults={"confirmed": True}
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(manager)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    return client


def _session_cookie(user: object) -> str:
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return client.cookies["sessionid"].value


_REPORT = """done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.write(string.format("RESULT %f %f %f %f %d %d %d\\n", summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.errors.status, summary.errors.timeout, summary.requests))
end
"""


# A user reads each page before the next click: wrk waits a random think time (ms) before every request
# of a connection. Latency is measured from the request, so the pause never counts in it.
_THINK = """local low, high = %d, %d
init = function(args)
  math.randomseed(os.time() + (tonumber(tostring({}):sub(8)) or 0))
end
delay = function()
  return math.random(low, high)
end
"""


def _wrk(
    url: str, header: str, duration: int, connections: int, think_ms: tuple[int, int] | None = None
) -> dict[str, float]:
    """One wrk run; requests/s and the 50th/95th/99th percentiles (ms) from the same run (a Lua report).
    With ``think_ms`` each connection is a user who pauses that long (uniformly random) between requests."""
    binary = shutil.which("wrk")
    if binary is None:
        raise SystemExit("wrk is not installed (Debian package wrk)")
    script = Path(tempfile.mkdtemp()) / "report.lua"
    script.write_text((_THINK % think_ms if think_ms else "") + _REPORT)
    threads = min(2, connections)
    command = [binary, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "30s",
               "-s", str(script), "-H", header, url]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    found = re.search(r"RESULT (\S+) (\S+) (\S+) (\S+) (\d+) (\d+) (\d+)", output)
    if found is None:
        raise SystemExit(f"no figures from wrk:\n{output}")
    keys = ("rps", "p50", "p95", "p99", "errors", "timeouts", "requests")
    return dict(zip(keys, (float(value) for value in found.groups()), strict=True))


# The proxy part of deploy/nginx.conf: users keep their connections to nginx, and gunicorn's sync workers
# only ever see whole requests (a sync worker serving an idle keep-alive connection would block on it).
_NGINX_CONF = """daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    upstream portal_web {{ server 127.0.0.1:{upstream}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port};
        keepalive_timeout 75s;
        keepalive_requests 100000;
        location / {{
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_buffers 64 16k;
            proxy_pass http://portal_web;
        }}
    }}
}}
"""


def _nginx_start(root: Path, *, port: int, upstream: int) -> subprocess.Popen:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise SystemExit("nginx is not installed (Debian package nginx-light or nginx)")
    root.mkdir(parents=True)
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (root / name).mkdir(mode=0o777)
        (root / name).chmod(0o777)  # nginx's workers run as an unprivileged user when started by root
    conf = root / "nginx.conf"
    conf.write_text(_NGINX_CONF.format(root=root, port=port, upstream=upstream))
    return subprocess.Popen([binary, "-c", str(conf), "-p", str(root)], stderr=subprocess.DEVNULL)


def _table(title: str, targets: list[tuple[str, str, str]], run, duration: int) -> None:
    print(f"\n{title}")
    print(f"  {'target':<16}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for label, url, header in targets:
        run(url, header, 5)  # warm-up, discarded
        figures = run(url, header, duration)
        print(
            f"  {label:<16}{figures['rps']:>8.0f}{figures['p50']:>9.1f}{figures['p95']:>9.1f}"
            f"{figures['p99']:>9.1f}{int(figures['errors'] + figures['timeouts']):>8}"
        )


@dataclass(frozen=True)
class Prepared:
    """The bench database migrated and seeded, with the environment that serves it."""

    env: dict[str, str]
    var_dir: Path
    seed: dict[str, object]


@contextmanager
def bench_portal(database_url: str, *, prefix: str) -> Iterator[Prepared]:
    """Migrate and seed the bench database with production settings (DEBUG off) and set Django up in
    this process; the temporary folder goes at the end."""
    _database_ensure(database_url)
    var_dir = Path(tempfile.mkdtemp(prefix=prefix))
    env = {
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": SECRET,
        "ALLOWED_HOSTS": "127.0.0.1,testserver",
        "SECURE_SSL_REDIRECT": "0",
        "PORTAL_VAR_DIR": str(var_dir),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
    }
    full_env = {**os.environ, **env}
    try:
        for command in (["migrate", "--no-input", "-v0"], ["collectstatic", "--no-input", "-v0"]):
            subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=full_env, check=True)
        _django(env)
        yield Prepared(env=full_env, var_dir=var_dir, seed=load_seed.seed())
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


def wait_answering(url: str, server: subprocess.Popen, limit: float = 60.0) -> None:
    """Poll ``url`` until the server behind it answers (any HTTP status); stop when it exits or at the limit."""
    deadline = time.monotonic() + limit
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # an answer, even an error page: the server is up
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"nothing answers at {url} (server exit status {server.poll()})") from None
            time.sleep(0.2)


@dataclass(frozen=True)
class Served:
    base: str  # the portal's address, behind nginx
    server: subprocess.Popen  # gunicorn's master, whose workers a benchmark may measure


@contextmanager
def served(prepared: Prepared, *, workers: int, port: int) -> Iterator[Served]:
    """Serve the portal as production does (nginx in front of gunicorn's sync workers), once it answers."""
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    upstream = port + 1
    server = subprocess.Popen(
        [
            gunicorn,
            "config.wsgi",
            "-b",
            f"127.0.0.1:{upstream}",
            "-w",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=prepared.env,
        start_new_session=True,
    )
    proxy = _nginx_start(prepared.var_dir / "nginx", port=port, upstream=upstream)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_answering(f"{base}/accounts/login/", server)
        yield Served(base=base, server=server)
    finally:
        proxy.terminate()
        proxy.wait(20)
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal_bench"),
    )
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--users", type=int, default=50, help="concurrent users, each with a think time")
    parser.add_argument(
        "--think",
        nargs="*",
        default=["1-5", "0.5-1.5"],
        help="think times in seconds, LOW-HIGH, one users' run each (1-5 is locust's own example)",
    )
    parser.add_argument(
        "--connections", type=int, nargs="*", default=[8, 50], help="closed-loop runs, one per value"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--skip-load", action="store_true", help="seed and count queries only")
    args = parser.parse_args()

    with bench_portal(args.database_url, prefix="portal-bench-") as prepared:
        _query_counts(prepared.seed)
        if args.skip_load:
            return
        from rest_framework.authtoken.models import Token

        token, _ = Token.objects.get_or_create(user=prepared.seed["engineer"])
        cookie = _session_cookie(prepared.seed["engineer"])
        with served(prepared, workers=args.workers, port=args.port) as portal:
            _load_runs(args, portal.base, prepared.seed, cookie, token.key)


def _load_runs(args: argparse.Namespace, base: str, seed: dict[str, object], cookie: str, token: str) -> None:
    setup = f"nginx -> gunicorn sync x{args.workers}"
    targets = [
        ("case list page", f"{base}/cases/?view=all", f"Cookie: sessionid={cookie}"),
        ("case page", f"{base}/cases/{seed['case']}/", f"Cookie: sessionid={cookie}"),
        ("cases API", f"{base}/api/cases/", f"Authorization: Token {token}"),
    ]
    for think in args.think:
        low, high = (round(float(value) * 1000) for value in think.split("-"))
        _table(
            f"{args.users} users, each pausing {think} s between requests (wrk -c{args.users} with a "
            f"think time), {args.duration} s after a 5 s warm-up, {setup}",
            targets,
            lambda url, header, seconds, pause=(low, high): _wrk(url, header, seconds, args.users, pause),
            args.duration,
        )
    for connections in args.connections:
        _table(
            f"{connections} connections without pause (saturation), {args.duration} s after a 5 s "
            f"warm-up, {setup}",
            targets,
            lambda url, header, seconds, connections=connections: _wrk(url, header, seconds, connections),
            args.duration,
        )


if __name__ == "__main__":
    main()
