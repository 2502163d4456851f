"""docker-compose.yml against the Compose specification's JSON schema (the copy check-jsonschema ships,
with its licence), and what it must run for several machines, metrics and object storage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_compose_file_follows_the_compose_specification():
    result = _check(ROOT / "docker-compose.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_broken_compose_file(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(
        (ROOT / "docker-compose.yml").read_text().replace('restart: "no"', "restart: [no]", 1)
        + "\nsecretz:\n  key: {file: ./x}\n"
    )
    result = _check(broken)
    assert result.returncode == 1
    assert "secretz" in result.stdout or "restart" in result.stdout


def test_compose_offers_an_s3_server_metrics_and_the_mail_listener():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert {"web", "worker", "beat", "inbound", "nginx", "db", "redis"} <= services.keys()
    assert services["minio"]["profiles"] == ["minio"]
    assert services["prometheus"]["profiles"] == ["metrics"]
    assert "PROMETHEUS_MULTIPROC_DIR" in services["web"]["environment"]
    assert "deploy/gunicorn.conf.py" in services["web"]["command"]
    scrape = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())["scrape_configs"][0]
    assert scrape["metrics_path"] == "/metrics" and scrape["authorization"]["type"] == "Bearer"
