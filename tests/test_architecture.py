"""The house rules a newcomer relies on, checked by reading the source with ast.

Imports at module level only (outside `AppConfig.ready`, management commands, tests and bench), no
import cycle between the project's modules, the parsers free of the rules, no module over 500 lines
and no function over 60 lines. Each failure names the file and line to change.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = (
    "accounts",
    "analysis",
    "cases",
    "communications",
    "config",
    "inbound",
    "outbox",
    "oversight",
    "uploads",
)
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    tree: ast.Module

    @property
    def where(self) -> str:
        return str(self.path.relative_to(ROOT))

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"


def _python_files(top: str) -> Iterator[Path]:
    for path in sorted((ROOT / top).rglob("*.py")):
        if "migrations" not in path.parts:
            yield path


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _load(tops: tuple[str, ...]) -> list[Module]:
    return [
        Module(_module_name(path), path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        for top in tops
        for path in _python_files(top)
    ]


APP_MODULES = _load(APPS)


def _functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _imports_allowed_in(module: Module, function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """`AppConfig.ready` (signals wired once the registry is ready) and the command line."""
    return function.name == "ready" or "management" in module.path.parts


def test_no_import_inside_a_function() -> None:
    offenders = []
    for module in APP_MODULES:
        for function in _functions(module.tree):
            if _imports_allowed_in(module, function):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    offenders.append(f"{module.where}:{node.lineno} in {function.name}()")
    assert not offenders, "imports inside functions (move them to the top):\n" + "\n".join(
        sorted(set(offenders))
    )


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_level_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported (those under `if TYPE_CHECKING:` do not)."""
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and not _is_type_checking(node):
            pending.extend(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            pending.extend(node.body + node.orelse + node.finalbody)
            for handler in node.handlers:
                pending.extend(handler.body)


def _targets(module: Module, node: ast.Import | ast.ImportFrom, known: set[str]) -> Iterator[str]:
    """The project modules an import statement names: `from pkg import sub` is an edge to `pkg.sub`.

    A module's own enclosing packages are left out: Python initialises them before the module, by
    construction, so they never make a cycle of their own.
    """
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            package = module.name.split(".")
            if not module.is_package:
                package = package[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join(package + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != module.name and not module.name.startswith(name + "."):
            yield name


def _import_graph(modules: list[Module]) -> dict[str, dict[str, int]]:
    known = {module.name for module in modules}
    graph: dict[str, dict[str, int]] = {module.name: {} for module in modules}
    for module in modules:
        for node in _top_level_imports(module.tree):
            for target in _targets(module, node, known):
                graph[module.name].setdefault(target, node.lineno)
    return graph


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle() -> None:
    graph = _import_graph(APP_MODULES)
    where = {module.name: module.where for module in APP_MODULES}
    reports = []
    for component in _cycles(graph):
        members = set(component)
        edges = [
            f"  {where[source]}:{line} imports {target}"
            for source in component
            for target, line in sorted(graph[source].items())
            if target in members
        ]
        reports.append("cycle between " + ", ".join(component) + ":\n" + "\n".join(edges))
    assert not reports, "import cycles (tasks import services, never the reverse):\n" + "\n".join(reports)


def test_parsers_do_not_import_rules() -> None:
    offenders = []
    for module in APP_MODULES:
        if not module.name.startswith("analysis.parsers"):
            continue
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _targets(module, node, {m.name for m in APP_MODULES}):
                    if target == "analysis.rules" or target.startswith("analysis.rules."):
                        offenders.append(f"{module.where}:{node.lineno} imports {target}")
    assert not offenders, "the parsers import the rules:\n" + "\n".join(offenders)


def test_no_module_over_500_lines() -> None:
    offenders = []
    for top in (*APPS, "bench", "tests"):
        for path in _python_files(top):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_MODULE_LINES:
                offenders.append(f"{path.relative_to(ROOT)}:1 has {lines} lines")
    assert not offenders, f"modules over {MAX_MODULE_LINES} lines (split by concern):\n" + "\n".join(
        offenders
    )


def test_no_function_over_60_lines() -> None:
    offenders = []
    for module in APP_MODULES:
        for function in _functions(module.tree):
            lines = (function.end_lineno or function.lineno) - function.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                offenders.append(f"{module.where}:{function.lineno} {function.name}() has {lines} lines")
    assert not offenders, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(offenders)
