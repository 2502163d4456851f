"""Safe expansion of zip, 7z, tar(.gz/.bz2/.xz) and single gzip/bzip2/xz uploads into member uploads.

Limits come from settings (UPLOAD_ARCHIVE_MAX_TOTAL, _MAX_RATIO, _MAX_MEMBERS, _MAX_DEPTH). Headers are
checked before anything is extracted (declared sizes, member count, names, links, devices, encryption),
and byte counters run during extraction because headers can lie (research/reliability.md S12). A hostile
archive raises :class:`ArchiveRejected`; the caller keeps the upload as ``rejected`` and removes every
member written so far. Nothing is visible as a member until the whole archive passed.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import re
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BufferedIOBase
from pathlib import Path
from typing import IO, Literal

import py7zr
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from py7zr.io import Py7zIO, WriterFactory

from uploads import files, members, services
from uploads.errors import ArchiveRejected
from uploads.models import Upload

COPY_BLOCK = 1024 * 1024
# Tiny archives of text compress beyond any ratio; the ratio only guards expansions above this.
RATIO_FLOOR = 16 * 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass
class Budget:
    """Counters shared by the whole tree of nested archives."""

    archive_size: int
    max_total: int
    max_ratio: int
    max_members: int
    max_depth: int
    written: int = 0
    members: int = 0

    @classmethod
    def from_settings(cls, archive_size: int) -> Budget:
        return cls(
            archive_size=max(archive_size, 1),
            max_total=settings.UPLOAD_ARCHIVE_MAX_TOTAL,
            max_ratio=settings.UPLOAD_ARCHIVE_MAX_RATIO,
            max_members=settings.UPLOAD_ARCHIVE_MAX_MEMBERS,
            max_depth=settings.UPLOAD_ARCHIVE_MAX_DEPTH,
        )

    def check_total(self, total: int) -> None:
        if total > self.max_total:
            raise ArchiveRejected(
                _("The archive expands to more than %(limit)s; split it or upload the files themselves.")
                % {"limit": filesizeformat(self.max_total)}
            )
        if total > RATIO_FLOOR and total > self.max_ratio * self.archive_size:
            raise ArchiveRejected(
                _("The archive expands more than %(ratio)s times its size, which is how archive bombs look.")
                % {"ratio": self.max_ratio}
            )

    def add_members(self, count: int) -> None:
        self.members += count
        if self.members > self.max_members:
            raise ArchiveRejected(
                _("The archive has more than %(count)s files; pack fewer files per archive.")
                % {"count": self.max_members}
            )

    def add_bytes(self, count: int) -> None:
        self.written += count
        self.check_total(self.written)


@dataclass
class Expansion:
    workdir: Path
    budget: Budget
    members: list[members.MemberFile] = field(default_factory=list)
    counter: int = 0

    def new_path(self) -> Path:
        self.counter += 1
        return self.workdir / f"m{self.counter:06d}"


def _encrypted() -> ArchiveRejected:
    return ArchiveRejected(
        _("The archive is encrypted: please upload an unencrypted archive (or the files themselves).")
    )


def member_name_check(name: str) -> str:
    """The member's path inside the archive, normalised; absolute paths and ``..`` are hostile."""
    cleaned = name.replace("\\", "/")
    if cleaned.startswith("/") or _DRIVE.match(cleaned) or "\x00" in cleaned:
        raise ArchiveRejected(_("The archive contains an absolute path (%(name)s).") % {"name": name[:200]})
    parts = [part for part in cleaned.split("/") if part not in ("", ".")]
    if any(part == ".." for part in parts):
        raise ArchiveRejected(
            _("The archive contains a path that leaves its folder (%(name)s).") % {"name": name[:200]}
        )
    return "/".join(parts)


def _copy_counted(
    source: IO[bytes] | BufferedIOBase, target: Path, expansion: Expansion, declared: int | None
) -> tuple[int, str]:
    """Copy a member out with the byte counters running; returns its size and SHA-256."""
    digest = hashlib.sha256()
    size = 0
    with open(target, "wb") as out:
        while block := source.read(COPY_BLOCK):
            size += len(block)
            if declared is not None and size > declared:
                raise ArchiveRejected(_("A file in the archive is larger than its header says."))
            expansion.budget.add_bytes(len(block))
            digest.update(block)
            out.write(block)
    return size, digest.hexdigest()


def _format(path: Path) -> str | None:
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if zipfile.is_zipfile(path):
        return "zip"
    try:
        if tarfile.is_tarfile(path):
            return "tar"
    except (OSError, EOFError, tarfile.TarError, lzma.LZMAError, zlib.error):
        pass
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh"):
        return "bz2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    return None


def _add_member(
    expansion: Expansion,
    *,
    path: Path,
    archive_path: str,
    size: int,
    sha256: str,
    parent: int | None,
    depth: int,
) -> None:
    detection = files.detect_file(path)
    kind = detection.upload_type
    index = len(expansion.members)
    expansion.members.append(
        members.MemberFile(
            path=path,
            archive_path=archive_path,
            size=size,
            sha256=sha256,
            kind=kind,
            detected_kind=detection.kind,
            parent=parent,
        )
    )
    if kind == Upload.Kind.ARCHIVE and _format(path) is not None:
        if depth + 1 > expansion.budget.max_depth:
            raise ArchiveRejected(
                _("Archives are nested more than %(depth)s levels deep; upload the inner files instead.")
                % {"depth": expansion.budget.max_depth}
            )
        _expand(expansion, path=path, name=archive_path, parent=index, depth=depth + 1)


def _expand(expansion: Expansion, *, path: Path, name: str, parent: int | None, depth: int) -> None:
    fmt = _format(path)
    handlers: dict[str, Callable[..., None]] = {
        "zip": _expand_zip,
        "7z": _expand_7z,
        "tar": _expand_tar,
        "gzip": _expand_single,
        "bz2": _expand_single,
        "xz": _expand_single,
    }
    if fmt is None:
        raise ArchiveRejected(_("This archive could not be read as zip, 7z or tar."))
    try:
        handlers[fmt](expansion, path=path, name=name, parent=parent, depth=depth, fmt=fmt)
    except ArchiveRejected:
        raise
    except (
        zipfile.BadZipFile,
        tarfile.TarError,
        py7zr.Bad7zFile,
        py7zr.DecompressionError,
        EOFError,
        lzma.LZMAError,
        OSError,
        NotImplementedError,
        py7zr.UnsupportedCompressionMethodError,
        zlib.error,
    ) as error:
        if isinstance(error, py7zr.PasswordRequired):
            raise _encrypted() from None
        raise ArchiveRejected(
            _("The archive is damaged or uses an unsupported format (%(error)s).")
            % {"error": str(error)[:200]}
        ) from None


def _expand_zip(
    expansion: Expansion, *, path: Path, name: str, parent: int | None, depth: int, fmt: str
) -> None:
    with zipfile.ZipFile(path) as archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        expansion.budget.add_members(len(infos))
        declared = 0
        for info in infos:
            member_name_check(info.filename)
            if info.flag_bits & 0x1:
                raise _encrypted()
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise ArchiveRejected(
                    _("The archive contains a link (%(name)s).") % {"name": info.filename[:200]}
                )
            if mode and not stat.S_ISREG(mode) and stat.S_IFMT(mode):
                raise ArchiveRejected(
                    _("The archive contains a device or special file (%(name)s).")
                    % {"name": info.filename[:200]}
                )
            declared += info.file_size
        expansion.budget.check_total(expansion.budget.written + declared)
        for info in infos:
            target = expansion.new_path()
            with archive.open(info) as source:
                size, digest = _copy_counted(source, target, expansion, info.file_size)
            _add_member(
                expansion,
                path=target,
                archive_path=member_name_check(info.filename),
                size=size,
                sha256=digest,
                parent=parent,
                depth=depth,
            )


def _tar_check(member: tarfile.TarInfo) -> None:
    if member.issym() or member.islnk():
        raise ArchiveRejected(_("The archive contains a link (%(name)s).") % {"name": member.name[:200]})
    if not (member.isfile() or member.isdir()):
        raise ArchiveRejected(
            _("The archive contains a device or special file (%(name)s).") % {"name": member.name[:200]}
        )
    member_name_check(member.name)


def _expand_tar(
    expansion: Expansion, *, path: Path, name: str, parent: int | None, depth: int, fmt: str
) -> None:
    # First pass: headers only, stopping at the first limit; the second pass streams the data out once.
    declared = 0
    count = 0
    with tarfile.open(path, "r:*") as archive:
        for member in archive:
            _tar_check(member)
            if member.isfile():
                count += 1
                if expansion.budget.members + count > expansion.budget.max_members:
                    expansion.budget.add_members(count)
                declared += member.size
                expansion.budget.check_total(expansion.budget.written + declared)
    expansion.budget.add_members(count)
    with tarfile.open(path, "r|*") as archive:
        for member in archive:
            if not member.isfile():
                continue
            source = archive.extractfile(member)
            if source is None:
                continue
            target = expansion.new_path()
            size, digest = _copy_counted(source, target, expansion, member.size)
            _add_member(
                expansion,
                path=target,
                archive_path=member_name_check(member.name),
                size=size,
                sha256=digest,
                parent=parent,
                depth=depth,
            )


class _CountedWriter(Py7zIO):
    """Where py7zr writes a member: a spool file, with the counters and the hash running."""

    def __init__(self, path: Path, expansion: Expansion, declared: int | None) -> None:
        self.path = path
        self.expansion = expansion
        self.declared = declared
        self.handle = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.digest = hashlib.sha256()
        self.length = 0

    def write(self, s: bytes | bytearray) -> int:
        self.length += len(s)
        if self.declared is not None and self.length > self.declared:
            raise ArchiveRejected(_("A file in the archive is larger than its header says."))
        self.expansion.budget.add_bytes(len(s))
        self.digest.update(s)
        return self.handle.write(s)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.handle.seek(offset, whence)

    def flush(self) -> None:
        self.handle.flush()

    def size(self) -> int:
        return self.length

    def close(self) -> None:
        if not self.handle.closed:
            self.handle.close()


class _Factory(WriterFactory):
    def __init__(self, expansion: Expansion, declared: dict[str, int]) -> None:
        self.expansion = expansion
        self.declared = declared
        self.writers: list[tuple[str, _CountedWriter]] = []

    def create(self, filename: str) -> Py7zIO:
        writer = _CountedWriter(self.expansion.new_path(), self.expansion, self.declared.get(filename))
        self.writers.append((filename, writer))
        return writer


def _expand_7z(
    expansion: Expansion, *, path: Path, name: str, parent: int | None, depth: int, fmt: str
) -> None:
    try:
        archive = py7zr.SevenZipFile(path)
    except py7zr.PasswordRequired:
        raise _encrypted() from None
    with archive:
        if archive.needs_password():
            raise _encrypted()
        entries = [entry for entry in archive.files if not entry.is_directory]
        expansion.budget.add_members(len(entries))
        declared: dict[str, int] = {}
        for entry in entries:
            member_name_check(entry.filename)
            if entry.is_symlink or entry.is_junction:
                raise ArchiveRejected(
                    _("The archive contains a link (%(name)s).") % {"name": entry.filename[:200]}
                )
            if entry.is_socket or not entry.is_file:
                raise ArchiveRejected(
                    _("The archive contains a device or special file (%(name)s).")
                    % {"name": entry.filename[:200]}
                )
            declared[entry.filename] = entry.uncompressed or 0
        expansion.budget.check_total(expansion.budget.written + sum(declared.values()))
        factory = _Factory(expansion, declared)
        try:
            archive.extractall(factory=factory)
        finally:
            for _name, writer in factory.writers:
                writer.close()
    for filename, writer in factory.writers:
        _add_member(
            expansion,
            path=writer.path,
            archive_path=member_name_check(filename),
            size=writer.length,
            sha256=writer.digest.hexdigest(),
            parent=parent,
            depth=depth,
        )


_SINGLE_OPENERS: dict[str, Callable[[Path, Literal["rb"]], BufferedIOBase]] = {
    "gzip": gzip.open,
    "bz2": bz2.open,
    "xz": lzma.open,
}
_SINGLE_SUFFIXES = (".gz", ".gzip", ".bz2", ".xz")


def _expand_single(
    expansion: Expansion, *, path: Path, name: str, parent: int | None, depth: int, fmt: str
) -> None:
    """A single compressed file (``vmcore-dmesg.txt.gz``): one member named without the suffix."""
    expansion.budget.add_members(1)
    base = name.rsplit("/", 1)[-1]
    for suffix in _SINGLE_SUFFIXES:
        if base.lower().endswith(suffix):
            base = base[: -len(suffix)]
            break
    target = expansion.new_path()
    with _SINGLE_OPENERS[fmt](path, "rb") as source:
        size, digest = _copy_counted(source, target, expansion, None)
    _add_member(
        expansion,
        path=target,
        archive_path=base or "file",
        size=size,
        sha256=digest,
        parent=parent,
        depth=depth,
    )


def archive_expand(*, upload_id: str) -> Upload:
    """Expand a stored archive upload into member uploads, or leave it ``rejected`` with the reason.

    Idempotent: an archive already expanded or rejected is returned unchanged."""
    archive = Upload.objects.select_related("case", "uploaded_by").get(pk=upload_id)
    if (
        archive.state != Upload.State.STORED
        or archive.kind != Upload.Kind.ARCHIVE
        or archive.content_deleted_at is not None
        or archive.duplicate_of_id is not None
        or "members" in archive.metadata
        or archive.members.exists()
    ):
        return archive
    workdir = files.spool_dir() / f"{archive.pk}.expand"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    try:
        source_path = files.local_path(archive.storage_name)
        if source_path is None:
            source = workdir / "source"
            with (
                files.open_stored(archive.storage_name) as remote,
                open(source, "wb") as local,
            ):
                shutil.copyfileobj(remote, local, COPY_BLOCK)
        else:
            source = Path(source_path)
        expansion = Expansion(workdir=workdir, budget=Budget.from_settings(os.path.getsize(source)))
        try:
            _expand(expansion, path=source, name=archive.filename, parent=None, depth=1)
            if not expansion.members:
                # An empty zip, or a gzip of zeros (read as a tar with only its end marker): stored with
                # no member and no reason, it looked like a success that produced nothing.
                raise ArchiveRejected(
                    _("The archive contains no files: nothing in it could be stored or analysed.")
                )
            available = services.upload_quota_usage(case=archive.case).available
            if expansion.budget.written > available:
                raise ArchiveRejected(
                    _("The expanded files (%(size)s) do not fit in the quota (%(left)s left).")
                    % {"size": filesizeformat(expansion.budget.written), "left": filesizeformat(available)}
                )
        except ArchiveRejected as rejected:
            return members.upload_archive_reject(archive=archive, reason=rejected.reason)
        members.upload_members_store(archive=archive, members=expansion.members)
        archive.refresh_from_db()
        return archive
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
