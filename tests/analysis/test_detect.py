"""Detection by content, never by name."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from analysis.parsers import detect_kind, detect_upload_type
from analysis.parsers.detect import kind_of
from tests.samples import SEED_CASE, sample_params

CASES = [
    (b"PAGEDU64" + bytes(100), "kernel_dump", "kernel_dump"),
    (b"PAGEDUMP" + bytes(100), "kernel_dump", "kernel_dump"),
    (b"MDMP\x93\xa7" + bytes(100), "user_dump", "user_dump"),
    (b"ElfFile\x00" + bytes(100), "evtx", "evtx"),
    (b"7z\xbc\xaf\x27\x1c" + bytes(10), "archive", "archive"),
    (b"\x1f\x8b\x08" + bytes(10), "archive", "archive"),
    (b"BZh91AY" + bytes(10), "archive", "archive"),
    (b"\xfd7zXZ\x00" + bytes(10), "archive", "archive"),
    (b"BUGCHECK_CODE:  be\nBUGCHECK_P1: 1\n", "windbg_text", "text_log"),
    (b"4: kd> !analyze -v\n", "windbg_text", "text_log"),
    ("\ufeffFAILURE_BUCKET_ID:  AV_x\n".encode("utf-16"), "windbg_text", "text_log"),
    (
        b"[  1.0] BUG: kernel NULL pointer dereference, address: 0000\n[ 1.0] Call Trace:\n",
        "linux_oops",
        "text_log",
    ),
    (b"Kernel panic - not syncing: Fatal exception\n", "linux_oops", "text_log"),
    (b"just some notes from the customer\n", "unknown", "text_log"),
    (bytes(range(256)) * 4, "unknown", "other"),
    (b"", "unknown", "other"),
]


@pytest.mark.parametrize(("data", "kind", "upload"), CASES)
def test_detect_by_content(tmp_path: Path, data: bytes, kind: str, upload: str) -> None:
    path = tmp_path / "misleading.evtx"  # the name must not matter
    path.write_bytes(data)
    assert detect_kind(path) == kind
    assert detect_upload_type(path) == upload


def test_zip_and_tar_are_archives(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "x")
    (tmp_path / "a.dmp").write_bytes(buffer.getvalue())
    with tarfile.open(tmp_path / "b.bin", "w") as archive:
        archive.add(tmp_path / "a.dmp", arcname="a.dmp")
    assert detect_kind(tmp_path / "a.dmp") == "archive"
    assert detect_kind(tmp_path / "b.bin") == "archive"


def test_reads_at_most_64_kb() -> None:
    head = b"x" * (64 * 1024) + b"BUGCHECK_CODE: be"
    assert kind_of(head[: 64 * 1024]) == "unknown"


ALL_SAMPLES = [
    p
    for folder in ("kernel_dump", "user_dump", "evtx", "windbg_text", "linux_oops")
    for p in sample_params(folder)
]


@pytest.mark.parametrize("path", ALL_SAMPLES)
def test_every_sample_is_detected_as_its_folder(path: Path) -> None:
    folder = path.parent.name
    assert detect_kind(path) == folder


def test_seed_case_text_is_windbg(samples) -> None:
    assert detect_kind(samples(SEED_CASE)) == "windbg_text"
