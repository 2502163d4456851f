"""What a live case page costs: 200 open pages polling their case's version every 2 seconds.

usage: python bench/live.py [--database-url postgres://postgres@127.0.0.1:5432/portal_bench]
                            [--pages 200] [--interval 2] [--duration 20] [--workers 2] [--port 8775]

Uses the database of bench/load.py (10,000 cases, 50,000 uploads, 200,000 findings; seeded when
missing), served as production does (nginx in front of gunicorn's sync workers, DEBUG off). Measures in
one run:
- the case page itself (what a reload every 2 s would cost, the baseline);
- the version poll answered 304 (nothing changed), at saturation: the poll's capacity;
- N open pages polling every ``interval`` seconds (wrk connections that pause between requests): the
  latency they see and the share of the web workers' CPU they use.
Needs ``wrk`` and ``nginx`` (``make bench-deps``).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import psutil
from load import _REPORT, _THINK, Served, _session_cookie, bench_portal, served


def _wrk(
    url: str, headers: list[str], seconds: int, connections: int, pause_ms: tuple[int, int] | None
) -> dict:
    script = Path(tempfile.mkdtemp()) / "report.lua"
    script.write_text((_THINK % pause_ms if pause_ms else "") + _REPORT)
    command = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
               "-s", str(script)]  # fmt: skip
    for header in headers:
        command += ["-H", header]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    found = re.search(r"RESULT (\S+) (\S+) (\S+) (\S+) (\d+) (\d+) (\d+)", output)
    if found is None:
        raise SystemExit(f"no figures from wrk:\n{output}")
    keys = ("rps", "p50", "p95", "p99", "errors", "timeouts", "requests")
    return dict(zip(keys, (float(value) for value in found.groups()), strict=True))


def _cpu_seconds(server: subprocess.Popen) -> float:
    """CPU time (user + system) used so far by gunicorn's worker processes."""
    workers = psutil.Process(server.pid).children(recursive=True)
    return sum(sum(worker.cpu_times()[:2]) for worker in workers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal_bench"),
    )
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between two polls of a page")
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8775)
    args = parser.parse_args()

    with bench_portal(args.database_url, prefix="portal-bench-live-") as prepared:
        seed = prepared.seed
        from cases.models import Case

        version = Case.objects.values_list("live_version", flat=True).get(number=seed["case"])
        people = {
            "customer": _session_cookie(seed["customer"]),
            "engineer": _session_cookie(seed["engineer"]),
        }
        with served(prepared, workers=args.workers, port=args.port) as portal:
            _live_runs(args, portal, seed["case"], version, people)


def _live_runs(args: argparse.Namespace, portal: Served, number: object, version: int, people: dict) -> None:
    page_url = f"{portal.base}/cases/{number}/"
    poll_url = f"{portal.base}/cases/{number}/version/"
    unchanged = f'If-None-Match: "{version}"'
    setup = f"nginx -> gunicorn sync x{args.workers}, PostgreSQL, 10,000 cases"
    print(f"\nthe live case page's cost ({setup}), {args.duration} s per run after a 5 s warm-up")
    print(f"  {'request':<44}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    capacity = {}
    for who, cookie in people.items():
        for label, url, headers in (
            (f"case page, {who} (a reload)", page_url, [f"Cookie: sessionid={cookie}"]),
            (f"version poll, {who}, 304", poll_url, [f"Cookie: sessionid={cookie}", unchanged]),
        ):
            _wrk(url, headers, 5, 8, None)
            figures = _wrk(url, headers, args.duration, 8, None)
            capacity[label] = figures["rps"]
            print(
                f"  {label:<44}{figures['rps']:>8.0f}{figures['p50']:>9.1f}{figures['p99']:>9.1f}"
                f"{int(figures['errors'] + figures['timeouts']):>8}"
            )
    ratio = capacity["version poll, engineer, 304"] / capacity["case page, engineer (a reload)"]
    print(f"  a poll costs 1/{ratio:.0f} of a case page (engineer, saturation, 8 connections)")

    interval_ms = round(args.interval * 1000)
    headers = [f"Cookie: sessionid={people['engineer']}", unchanged]
    _wrk(poll_url, headers, 5, args.pages, (interval_ms, interval_ms))
    cpu_before, started = _cpu_seconds(portal.server), time.monotonic()
    figures = _wrk(poll_url, headers, args.duration, args.pages, (interval_ms, interval_ms))
    cores = (_cpu_seconds(portal.server) - cpu_before) / (time.monotonic() - started)
    print(
        f"\n{args.pages} open case pages (engineers), each polling every {args.interval:g} s: "
        f"{figures['rps']:.0f} polls/s, p50 {figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms, "
        f"{int(figures['errors'] + figures['timeouts'])} errors; the web workers used "
        f"{cores * 100:.0f} % of one core ({cores / args.workers * 100:.0f} % of the {args.workers} workers)"
    )


if __name__ == "__main__":
    main()
