"""Parser benchmark: files/s and MB/s per kind on the public samples, the header read of a 16 GiB sparse
kernel dump against a 1 MB one, and the ``evtx`` (Rust) package against ``python-evtx`` on the same log.

Run: ``python bench/parse.py`` (``make bench``). Not part of the test suite.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from analysis.parsers import ENGINE_VERSION, detect_kind  # noqa: E402
from analysis.rules import analyse_file  # noqa: E402
from tests.analysis.dump_fixtures import KernelDump, reference_drivers  # noqa: E402
from tests.samples import SAMPLES_DIR as SAMPLES  # noqa: E402

ROUNDS = 5


def per_kind() -> None:
    files = [p for p in sorted(SAMPLES.glob("*/*")) if p.is_file() and not p.name.endswith(".json")]
    if not files:
        print(f"samples absent at {SAMPLES}: per-kind figures skipped")
        return
    groups: dict[str, list[Path]] = defaultdict(list)
    for path in files:
        groups[detect_kind(path)].append(path)
    print(f"{'kind':<12} {'files':>5} {'MB':>7} {'files/s':>9} {'MB/s':>8}   (best of {ROUNDS} rounds)")
    for kind, paths in sorted(groups.items()):
        size = sum(p.stat().st_size for p in paths) / 1e6
        best = min(_timed(lambda paths=paths: [analyse_file(p) for p in paths]) for _ in range(ROUNDS))
        print(f"{kind:<12} {len(paths):>5} {size:>7.2f} {len(paths) / best:>9.0f} {size / best:>8.1f}")


def _timed(work: object) -> float:
    started = time.perf_counter()
    work()  # type: ignore[operator]
    return time.perf_counter() - started


def sparse_header() -> None:
    with tempfile.TemporaryDirectory() as folder:
        small = Path(folder) / "small.dmp"
        with small.open("wb") as handle:
            handle.write(KernelDump(dump_type=5, required_space=1 << 20).build())
            handle.truncate(1 << 20)
        large = Path(folder) / "MEMORY.DMP"
        with large.open("wb") as handle:
            handle.write(KernelDump(dump_type=5, required_space=16 << 30).build())
            handle.truncate(16 << 30)  # sparse: no disk used
        triage = KernelDump(drivers=reference_drivers() * 30, stack_words=list(range(2000))).write(
            Path(folder) / "Mini.dmp"
        )
        times = {}
        for name, path in (("1 MB", small), ("16 GiB sparse", large), ("triage minidump", triage)):
            runs = [_timed(lambda path=path: analyse_file(path)) for _ in range(50)]
            times[name] = statistics.median(runs)
            print(f"kernel dump {name:<16} median {times[name] * 1e3:7.3f} ms over 50 parses")
        print(f"ratio 16 GiB / 1 MB header read: {times['16 GiB sparse'] / times['1 MB']:.2f}")


def evtx_libraries() -> None:
    log = SAMPLES / "evtx" / "python-evtx__system.evtx"
    if not log.exists():
        print("evtx sample absent: library comparison skipped")
        return
    import evtx  # the Rust-backed package used by analysis.parsers.evtx

    started = time.perf_counter()
    fast = 0
    records = iter(evtx.PyEvtxParser(str(log)).records())  # XML, as python-evtx gives
    while True:
        try:
            next(records)
        except StopIteration:
            break
        except RuntimeError:
            continue
        fast += 1
    fast_s = time.perf_counter() - started
    try:
        import Evtx.Evtx as python_evtx
    except ImportError:
        print("python-evtx not installed: comparison skipped")
        return
    started = time.perf_counter()
    slow = 0
    with python_evtx.Evtx(str(log)) as handle:
        for record in handle.records():
            try:
                record.xml()
            except Exception:  # python-evtx raises on damaged records; count what it reads
                continue
            slow += 1
    slow_s = time.perf_counter() - started
    size = log.stat().st_size / 1e6
    print(
        f"evtx (Rust)  {fast:>6} records {fast_s * 1e3:8.1f} ms {fast / fast_s:>10.0f} rec/s {size / fast_s:7.1f} MB/s"
    )
    print(
        f"python-evtx  {slow:>6} records {slow_s * 1e3:8.1f} ms {slow / slow_s:>10.0f} rec/s {size / slow_s:7.1f} MB/s"
    )
    print(f"speed-up: {slow_s / fast_s:.0f}x on {log.name} ({size:.1f} MB)")


def main() -> None:
    print(f"analysis engine {ENGINE_VERSION}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    per_kind()
    print()
    sparse_header()
    print()
    evtx_libraries()


if __name__ == "__main__":
    main()
