"""The plain result types every parser returns; serialised as the command line JSON contract.

DESIGN.md "Command line (contract)" is the reference: absent facts are ``None`` or empty, never
guessed; hex values are lower-case strings with ``0x``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Kind = Literal["kernel_dump", "user_dump", "evtx", "windbg_text", "linux_oops", "archive", "unknown"]
Origin = Literal["microsoft", "third_party", "unknown"]
Severity = Literal["info", "low", "medium", "high", "critical"]


@dataclass(frozen=True)
class Frame:
    module: str | None
    symbol: str | None = None
    offset: str | None = None
    address: str | None = None
    # How the frame was found: "symbolic" (debugger text), "context" (a CPU context), "scan" (stack scan).
    trust: str | None = None


@dataclass(frozen=True)
class Module:
    name: str
    base: str | None = None
    size: int | None = None
    timestamp: str | None = None
    version: str | None = None
    origin: Origin = "unknown"
    origin_reason: str | None = None
    vendor: str | None = None
    vendor_class: str | None = None
    # Full path as the dump records it (``\\SystemRoot\\System32\\drivers\\x.sys``), when it differs from name.
    path: str | None = None


@dataclass(frozen=True)
class Crash:
    """One bug check, user-mode exception or kernel oops."""

    bugcheck_code: str | None = None
    bugcheck_name: str | None = None
    parameters: tuple[str | None, ...] = ()
    exception_code: str | None = None
    exception_name: str | None = None
    exception_address: str | None = None
    title: str | None = None
    crash_time: str | None = None
    os_build: str | None = None
    architecture: str | None = None
    process_name: str | None = None
    culprit_module: str | None = None
    culprit_reason: str | None = None
    stack: tuple[Frame, ...] = ()
    modules: tuple[Module, ...] = ()
    unloaded_modules: tuple[Module, ...] = ()
    signatures: dict[str, str] = field(default_factory=dict)
    # Format-specific facts (dump type, uptime, processor count, failure bucket, tainted flags...).
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """An event-log record that matters for a crash investigation, other than a bug check."""

    event_id: int
    provider: str
    time: str | None
    kind: str
    message: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str
    title: str
    detail: str
    recommendation: str
    confidence: str = "medium"
    evidence: tuple[int, ...] = ()  # indexes into the crashes the rule was given
    title_zh: str | None = None
    detail_zh: str | None = None
    recommendation_zh: str | None = None
    # What the conclusion rests on, each {"file": name, "fact": what it shows}.
    facts: tuple[dict[str, str], ...] = ()
    # The recommendation as catalogue actions (analysis/rules/actions.py), merged across findings by id.
    actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParseResult:
    file: str
    kind: Kind
    crashes: tuple[Crash, ...] = ()
    events: tuple[Event, ...] = ()
    findings: tuple[Finding, ...] = ()
    errors: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The command line contract's object for this file (lists, not tuples)."""
        data: dict[str, Any] = _jsonable(asdict(self))
        return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value
