"""Plain-Python crash parsers (no Django): ``parse_file`` detects a file's kind by content, runs the
format parser and never raises. The findings come after, from ``analysis.rules.file_result``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, BinaryIO

from analysis.parsers._binary import ParseError
from analysis.parsers.detect import detect_kind, detect_upload_type
from analysis.parsers.result import Crash, Event, Finding, Frame, Kind, Module, ParseResult

# Stored on every analysis job; bump on any change to parser output or rules.
ENGINE_VERSION = "1.1.0"

__all__ = [
    "ENGINE_VERSION",
    "Crash",
    "Event",
    "Finding",
    "Frame",
    "Kind",
    "Module",
    "ParseResult",
    "detect_kind",
    "detect_upload_type",
    "parse_file",
]

# Parser module per kind; evtx, windbg_text and linux_oops are written separately and imported lazily
# so that a missing or broken one only affects its own kind.
_PARSERS: dict[str, str] = {
    "kernel_dump": "analysis.parsers.kernel_dump",
    "user_dump": "analysis.parsers.user_dump",
    "evtx": "analysis.parsers.evtx",
    "windbg_text": "analysis.parsers.windbg_text",
    "linux_oops": "analysis.parsers.linux_oops",
}


# Parsers that read a seekable binary file as well as a path, and so only the parts they need of a file
# in object storage; the others get the file spilled to a temporary copy.
_STREAMED_KINDS = frozenset({"kernel_dump"})
SPILL_BLOCK = 4 * 1024 * 1024


@contextlib.contextmanager
def _spilled(source: BinaryIO) -> Iterator[str]:
    """A temporary local copy of a binary file, removed on exit."""
    with tempfile.NamedTemporaryFile(prefix="parse-") as copy:
        source.seek(0)
        while block := source.read(SPILL_BLOCK):
            copy.write(block)
        copy.flush()
        yield copy.name


def _load(kind: str) -> Callable[[Any], ParseResult] | None:
    try:
        module = importlib.import_module(_PARSERS[kind])
    except ImportError:
        return None
    parse = getattr(module, "parse", None)
    return parse if callable(parse) else None


def _raw_parse(path: str | BinaryIO, file: str, kind: Kind | None) -> ParseResult:
    try:
        kind = kind or detect_kind(path)
    except OSError as exc:
        return ParseResult(
            file=file, kind="unknown", errors=(f"cannot read the file: {exc.strerror or exc}",)
        )
    if kind == "archive":
        return ParseResult(file=file, kind=kind)
    if kind == "unknown":
        return ParseResult(
            file=file,
            kind=kind,
            errors=("not a recognised crash dump, event log or crash text (checked by content)",),
        )
    parse = _load(kind)
    if parse is None:
        return ParseResult(file=file, kind=kind, errors=(f"parser not available for {kind}",))
    try:
        if isinstance(path, str) or kind in _STREAMED_KINDS:
            result = parse(path)
        else:
            with _spilled(path) as copy:
                result = parse(copy)
    except ParseError as exc:
        return ParseResult(file=file, kind=kind, errors=(str(exc),))
    except MemoryError:
        return ParseResult(file=file, kind=kind, errors=("the file needs more memory than allowed to parse",))
    except RecursionError:
        return ParseResult(file=file, kind=kind, errors=("the file is nested too deeply to parse",))
    except Exception as exc:  # a parser bug or a malformed file must not stop the batch
        return ParseResult(
            file=file, kind=kind, errors=(f"could not parse the file ({type(exc).__name__}: {exc})"[:500],)
        )
    if not isinstance(result, ParseResult):
        return ParseResult(file=file, kind=kind, errors=("parser returned no result",))
    return replace(result, file=file, kind=kind)


def parse_file(
    path: str | os.PathLike[str] | BinaryIO, display_name: str | None = None, kind: Kind | None = None
) -> ParseResult:
    """Detect (unless ``kind`` says what the file is) and parse; errors become ``errors`` entries, never
    raised.

    ``path`` may be a seekable binary file instead (a file in object storage behind ranged reads).
    ``display_name`` is reported as ``file`` (the upload's original name) instead of the path's basename.
    """
    source: str | BinaryIO
    if isinstance(path, str | os.PathLike):
        text_path = os.fspath(path)
        source, file = text_path, display_name or os.path.basename(text_path)
    else:
        source = path
        file = display_name or os.path.basename(str(getattr(path, "name", "")) or "file")
    return _raw_parse(source, file, kind)
