"""`.env.example` lists every variable the code reads from the environment, and app code reads settings
as ``settings.X``, each defined in config/settings.py (STYLE.md rule 8)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = (
    "config",
    "accounts",
    "cases",
    "uploads",
    "analysis",
    "communications",
    "oversight",
    "outbox",
    "inbound",
)
# Read for backward compatibility only; the example documents the new name (TRUSTED_PROXY_COUNT).
LEGACY = {"AXES_BEHIND_PROXY"}
# Set by pytest-xdist for its own workers, never by a deployment.
NOT_DEPLOYMENT = {"PYTEST_XDIST_WORKER"}


def _modules() -> list[Path]:
    return [path for app in APPS for path in (ROOT / app).rglob("*.py") if "migrations" not in path.parts]


def _name(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _environment_reads(tree: ast.AST) -> set[str]:
    """Names passed to env_str/env_bool/env_int/env_list, os.environ.get, os.getenv and os.environ[...]."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = ast.unparse(node.func)
            if func in {"env_str", "env_bool", "env_int", "env_list", "os.environ.get", "os.getenv"}:
                names.add(_name(node.args[0]) or "")
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and ast.unparse(node.value) == "os.environ"
        ):
            names.add(_name(node.slice) or "")
    return names - {""}


def test_every_variable_read_from_the_environment_is_in_env_example():
    read = set().union(*(_environment_reads(ast.parse(path.read_text())) for path in _modules()))
    listed = set(re.findall(r"^([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert "OVERSIGHT_PDF_FONT" in read
    assert sorted(read - listed - LEGACY - NOT_DEPLOYMENT) == []


def test_app_code_reads_settings_without_defaults():
    """``getattr(settings, "X", default)`` hides a setting missing from config/settings.py."""
    found = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            call = isinstance(node, ast.Call) and ast.unparse(node.func) in {"getattr", "hasattr"}
            if call and node.args and ast.unparse(node.args[0]) == "settings":
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []
