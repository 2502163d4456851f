"""Fixtures of the hardening suite: a private clamd with a signature database written here, and the tus
helpers of the uploads tests."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from tests.uploads.conftest import token_client, tus_create, tus_patch  # noqa: F401 - shared fixtures

# Hypothesis budgets: "ci" keeps the suite quick and repeatable, "long" is `make fuzz`. Loaded only when
# HYPOTHESIS_PROFILE names one, so other suites keep their own settings. (The same lines belong in
# tests/conftest.py for the profile to reach tests/analysis.)
hypothesis_settings.register_profile("ci", max_examples=100, derandomize=True, deadline=None)
hypothesis_settings.register_profile("long", max_examples=5_000, deadline=None)
if os.environ.get("HYPOTHESIS_PROFILE"):
    hypothesis_settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])

# The EICAR test file, assembled at run time so no scanner flags this source file.
EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*").encode()
# A custom body signature (.ndb) that matches anywhere in a file, so a "virus" can hide inside a dump.
MARKER = b"PORTAL-HARDENING-TEST-VIRUS-7f3a9c"
# clamd refuses INSTREAM bodies past this; the test of the "limit exceeded" answer sends more.
STREAM_MAX = 1024 * 1024


@pytest.fixture(scope="session")
def clamd_socket(tmp_path_factory) -> Iterator[str]:
    """A clamd of our own on a unix socket in a temporary folder; skips when clamd is not installed."""
    binary = shutil.which("clamd") or ("/usr/sbin/clamd" if Path("/usr/sbin/clamd").exists() else None)
    if binary is None:
        pytest.skip("clamd is not installed (Debian package clamav-daemon)")
    home = tmp_path_factory.mktemp("clamd")
    database = home / "db"
    database.mkdir()
    # No signature download is possible here: one hash signature for EICAR, one body signature.
    (database / "portal.hdb").write_text(f"{hashlib.md5(EICAR).hexdigest()}:{len(EICAR)}:Portal.Test.EICAR\n")
    (database / "portal.ndb").write_text(f"Portal.Test.Marker:0:*:{MARKER.hex()}\n")
    sock = home / "clamd.sock"
    config = home / "clamd.conf"
    config.write_text(
        "\n".join(
            [
                f"LocalSocket {sock}",
                f"DatabaseDirectory {database}",
                f"TemporaryDirectory {home}",
                f"LogFile {home / 'clamd.log'}",
                "Foreground yes",
                "Bytecode no",
                f"StreamMaxLength {STREAM_MAX}",
                "",
            ]
        )
    )
    process = subprocess.Popen(
        [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while not sock.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                log = (
                    (home / "clamd.log").read_text(errors="replace")[-2000:]
                    if (home / "clamd.log").exists()
                    else ""
                )
                pytest.skip(f"clamd did not start: {log}")
            time.sleep(0.2)
        yield str(sock)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
