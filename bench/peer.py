"""Side by side with the nearest peer: the portal and django-helpdesk on the same machine, data sizes and serving.

usage: python bench/peer.py [--database-url postgres://postgres@127.0.0.1:5432/portal_bench]
                            [--peer-database-url postgres://postgres@127.0.0.1:5432/helpdesk_bench]
                            [--duration 10] [--rounds 3] [--connections 8] [--port 8870] [--pages floor ...]

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
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import load
from peer_site import FOLLOWUPS, PEER_VENV, TICKETS, peer_env, peer_install, peer_prepare, peer_project

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["case list", "case page", "api", "reports", "floor"]
# The peer's API takes seconds per request (its first answers come after ~15 s at 8 connections on a busy
# machine): its runs are longer on both sides, so that enough requests finish to count.
MIN_SECONDS = {"api": 45}


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
        load.wait_answering(f"{base}/login/", server)
        yield base, server.pid
    finally:
        proxy.terminate()
        proxy.wait(20)
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)


def _portal_manager_cookie() -> str:
    """A manager's session that has passed two-factor sign-in, as a manager who signed in with a code
    carries."""
    return load.verified_manager_client("bench-manager").session.session_key


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


def _arguments() -> argparse.Namespace:
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
        "--pages", nargs="+", choices=PAGES, default=PAGES, metavar="PAGE",
        help=f"the pages to measure (default: all of {', '.join(PAGES)}; quote names with spaces)",
    )  # fmt: skip
    parser.add_argument(
        "--port", type=int, default=8870, help="portal on PORT, peer on PORT+2 (+1: gunicorn)"
    )
    return parser.parse_args()


def _paths(case: str, peer: dict[str, object]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The pages measured on each side, page for page: the portal's and the peer's."""
    portal_paths = {
        "case list": ["/cases/?view=all"],
        "case page": [f"/cases/{case}/"],
        "api": ["/api/cases/"],
        "reports": ["/reports/"],
        "floor": [f"/cases/{case}/version/"],
    }
    peer_paths = {
        "case list": ["/tickets/", str(peer["rows"])],
        "case page": [f"/tickets/{peer['ticket']}/"],
        "api": ["/api/tickets/"],
        "reports": ["/dashboard/"],
        "floor": ["/ok-auth/"],
    }
    return portal_paths, peer_paths


def main() -> None:
    args = _arguments()
    version = peer_install()
    load._database_ensure(args.peer_database_url)
    folder = Path(tempfile.mkdtemp(prefix="peer-bench-"))
    try:
        with load.bench_portal(args.database_url, prefix="portal-peer-") as prepared:
            peer_project(folder)
            env = peer_env(args.peer_database_url, folder)
            peer = peer_prepare(folder, env)
            if not peer["rows"]:
                raise SystemExit("the peer's list page names no rows request: has its template changed?")
            portal_paths, peer_paths = _paths(prepared.seed["case"], peer)
            portal_cookie = f"Cookie: sessionid={_portal_manager_cookie()}"
            peer_cookie = f"Cookie: sessionid={peer['cookie']}"
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
        for page in args.pages
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
    for page in args.pages:
        portal_rps = statistics.median(runs[("portal", portal + portal_paths[page][0])])
        peer_parts = [medians[("peer", peer + path)] for path in peer_paths[page]]
        if len(peer_parts) == 1:
            peer_rps, unit = peer_parts[0], "req/s"
        else:
            # One list needs both requests, one after the other: lists/s = 1 / sum of the seconds each takes.
            peer_rps, unit = 1 / sum(1 / part for part in peer_parts), "full lists/s"
        ratio = f"{portal_rps / peer_rps:.2f}" if peer_rps else "n/a (no peer request finished: run longer)"
        print(f"{page}: portal {portal_rps:.1f} req/s, peer {peer_rps:.1f} {unit}, ratio {ratio}")
    if "case list" in args.pages:
        print(
            f"\n(peer's list: page {medians[('peer', peer + peer_paths['case list'][0])]:.1f} req/s, rows "
            f"request {medians[('peer', peer + peer_paths['case list'][1])]:.1f} req/s)"
        )
    print(f"(load average after: {_load_average()})")


if __name__ == "__main__":
    main()
