"""The command line contract: JSON array, readable report, --version, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from analysis.__main__ import main
from analysis.parsers import ENGINE_VERSION
from tests.analysis.dump_fixtures import REPO_ROOT, KernelDump, reference_drivers


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60
    )


def test_json_contract_for_a_batch_with_bad_files(tmp_path: Path) -> None:
    dump = KernelDump(drivers=reference_drivers()).write(tmp_path / "Mini031023-01.dmp")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)))
    empty = tmp_path / "empty.dmp"
    empty.write_bytes(b"")
    done = _run(str(dump), str(junk), str(empty), str(tmp_path / "missing.dmp"), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [item["file"] for item in data] == ["Mini031023-01.dmp", "junk.bin", "empty.dmp", "missing.dmp"]
    first = data[0]
    assert first["kind"] == "kernel_dump"
    crash = first["crashes"][0]
    assert crash["bugcheck_code"] == "0x000000be"
    assert crash["parameters"][0] == "0xfffffec500007038"
    assert crash["signatures"]["coarse"] == "0xBE"
    assert {"name", "base", "size", "timestamp", "origin", "origin_reason"} <= crash["modules"][0].keys()
    assert {"severity", "code", "title", "detail", "recommendation"} <= first["findings"][0].keys()
    for item in data[1:]:
        assert item["errors"] and item["kind"] == "unknown"


def test_readable_report_and_version(tmp_path: Path, capsys: object) -> None:
    dump = KernelDump(drivers=reference_drivers()).write(tmp_path / "a.dmp")
    assert main([str(dump)]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "ATTEMPTED_WRITE_TO_READONLY_MEMORY" in out and "== a.dmp" in out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == ENGINE_VERSION  # type: ignore[attr-defined]


def test_usage_errors_exit_2() -> None:
    assert _run().returncode == 2
    assert _run("--bogus", "x").returncode == 2
