"""Archive expansion: good archives become member uploads; hostile ones leave the archive rejected."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import zipfile

import py7zr
import pytest
from django.core.files.storage import storages

from uploads import archives, files
from uploads.models import Upload
from uploads.tasks import upload_expand_archive

pytestmark = pytest.mark.django_db

DUMP = b"PAGEDU64" + b"\x01" * 5000


def _zip(entries: dict[str, bytes], *, encrypted: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    raw = bytearray(buffer.getvalue())
    if encrypted:
        # zipfile cannot encrypt: set the "encrypted" flag bit in the local and central headers.
        for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            position = raw.find(signature)
            while position != -1:
                raw[position + flag_at] |= 0x1
                position = raw.find(signature, position + 4)
    return bytes(raw)


def _tar(members: list[tarfile.TarInfo], data: dict[str, bytes] | None = None, mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for member in members:
            content = (data or {}).get(member.name)
            archive.addfile(member, io.BytesIO(content) if content is not None else None)
    return buffer.getvalue()


def _file(name: str, content: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    return info


@pytest.fixture
def archive_upload(tus_create, tus_patch, customer, case, django_capture_on_commit_callbacks):
    def _make(data: bytes, name: str = "logs.zip") -> Upload:
        location = tus_create(customer, case, len(data), filename=name)["Location"]
        with django_capture_on_commit_callbacks() as callbacks:
            assert tus_patch(customer, location, 0, data).status_code == 204
        upload = Upload.objects.get(pk=location.rstrip("/").rsplit("/", 1)[1])
        assert upload.kind == Upload.Kind.ARCHIVE
        assert callbacks, "the expansion task is queued on commit"
        return upload

    return _make


def _rejected(upload: Upload, fragment: str) -> None:
    archives.archive_expand(upload_id=str(upload.pk))
    upload.refresh_from_db()
    assert upload.state == Upload.State.REJECTED, upload.rejection_reason
    assert fragment in upload.rejection_reason
    assert not upload.members.exists()
    assert Upload.objects.filter(parent__isnull=False).count() == 0
    assert not (files.spool_dir() / f"{upload.pk}.expand").exists()
    assert storages["uploads"].exists(upload.storage_name)  # kept for staff to inspect


def test_zip_with_a_nested_archive_becomes_member_uploads(archive_upload):
    inner = _zip({"inner.txt": b"BUG: unable to handle kernel NULL pointer"})
    upload = archive_upload(_zip({"MEMORY.DMP": DUMP, "logs/dmesg.txt": b"Call Trace:\n", "more.zip": inner}))
    assert upload_expand_archive(str(upload.pk)) == Upload.State.STORED
    members = {
        member.metadata["archive_path"]: member for member in Upload.objects.filter(parent__isnull=False)
    }
    assert set(members) == {"MEMORY.DMP", "logs/dmesg.txt", "more.zip", "inner.txt"}
    assert members["MEMORY.DMP"].kind == Upload.Kind.KERNEL_DUMP
    assert members["MEMORY.DMP"].sha256 == hashlib.sha256(DUMP).hexdigest()
    assert members["MEMORY.DMP"].parent == upload
    assert members["inner.txt"].parent == members["more.zip"]
    assert members["logs/dmesg.txt"].filename == "dmesg.txt"
    assert all(member.state == Upload.State.STORED for member in members.values())
    with storages["uploads"].open(members["MEMORY.DMP"].storage_name) as stored:
        assert stored.read() == DUMP
    # Running again changes nothing (idempotent task).
    archives.archive_expand(upload_id=str(upload.pk))
    assert Upload.objects.filter(parent__isnull=False).count() == 4


def test_seven_zip_and_tar_gz_are_expanded(archive_upload):
    buffer = io.BytesIO()
    with py7zr.SevenZipFile(buffer, "w") as archive:
        archive.writestr(DUMP, "Mini.dmp")
    seven = archive_upload(buffer.getvalue(), "dumps.7z")
    archives.archive_expand(upload_id=str(seven.pk))
    assert [m.kind for m in seven.members.all()] == [Upload.Kind.KERNEL_DUMP]
    tar = archive_upload(
        _tar([_file("var/log/dmesg", b"Oops: 0002")], {"var/log/dmesg": b"Oops: 0002"}), "l.tgz"
    )
    archives.archive_expand(upload_id=str(tar.pk))
    assert [m.filename for m in tar.members.all()] == ["dmesg"]


def test_zip_bomb_is_rejected_before_extraction(archive_upload):
    _rejected(archive_upload(_zip({"zeros.bin": bytes(64 * 1024 * 1024)})), "times its size")


def test_total_size_limit(archive_upload, settings):
    settings.UPLOAD_ARCHIVE_MAX_TOTAL = 10_000
    _rejected(archive_upload(_zip({"a.dmp": DUMP, "b.dmp": DUMP})), "expands to more than")


def test_nested_42_zip_style_is_rejected(archive_upload):
    level = _zip({"core.txt": b"x" * 100})
    for depth in range(5):
        level = _zip({f"{depth}-{n}.zip": level for n in range(4)})
    _rejected(archive_upload(level), "nested more than 3 levels")


@pytest.mark.parametrize("name", ["../../etc/cron.d/evil", "/etc/passwd", "C:/Windows/evil.dll", "a/../../b"])
def test_path_traversal_is_rejected(archive_upload, name):
    _rejected(archive_upload(_zip({"fine.txt": b"ok", name: b"evil"})), "path")


def test_symlink_in_tar_is_rejected(archive_upload):
    link = tarfile.TarInfo("passwd")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    _rejected(archive_upload(_tar([link]), "l.tar.gz"), "link")


def test_hardlink_in_tar_is_rejected(archive_upload):
    link = tarfile.TarInfo("shadow")
    link.type = tarfile.LNKTYPE
    link.linkname = "etc/shadow"
    _rejected(archive_upload(_tar([_file("a.txt", b"x"), link], {"a.txt": b"x"}), "l.tar.gz"), "link")


def test_device_file_in_tar_is_rejected(archive_upload):
    device = tarfile.TarInfo("sda")
    device.type = tarfile.BLKTYPE
    device.devmajor, device.devminor = 8, 0
    _rejected(archive_upload(_tar([device]), "d.tar"), "device")


def test_symlink_in_zip_is_rejected(archive_upload):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("link")
        info.external_attr = (0o120777 << 16) | 0
        archive.writestr(info, "/etc/passwd")
    _rejected(archive_upload(buffer.getvalue()), "link")


def test_encrypted_zip_is_refused_asking_for_an_unencrypted_one(archive_upload):
    _rejected(archive_upload(_zip({"secret.dmp": DUMP}, encrypted=True)), "unencrypted")


def test_encrypted_7z_is_refused(archive_upload):
    buffer = io.BytesIO()
    with py7zr.SevenZipFile(buffer, "w", password="secret") as archive:
        archive.writestr(DUMP, "Mini.dmp")
    _rejected(archive_upload(buffer.getvalue(), "d.7z"), "unencrypted")


def test_too_many_members(archive_upload, settings):
    settings.UPLOAD_ARCHIVE_MAX_MEMBERS = 5
    _rejected(archive_upload(_zip({f"f{n}.txt": b"x" for n in range(6)})), "more than 5 files")


def test_hostile_member_after_good_ones_removes_members_written_so_far(archive_upload):
    deep = _zip({"core.txt": b"x"})
    for depth in range(4):
        deep = _zip({f"level{depth}.zip": deep})
    _rejected(archive_upload(_zip({"a.dmp": DUMP, "b.txt": b"log", "z.zip": deep})), "nested")


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (
            gzip.compress(b"\x00" * (16 * 1024 * 1024), compresslevel=9),
            "zeros.gz",
        ),  # the reported 2 GB, scaled
        (_zip({}), "empty.zip"),
        (_tar([]), "empty.tar.gz"),
    ],
    ids=["gzip-of-zeros", "empty-zip", "empty-tar-gz"],
)
def test_an_archive_that_expands_to_nothing_says_so(data, name, archive_upload):
    upload = archive_upload(data, name)
    _rejected(upload, "The archive contains no files")
    assert (
        upload.rejection_reason == "The archive contains no files: nothing in it could be stored or analysed."
    )
