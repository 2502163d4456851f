"""Uploads in a real S3 API over HTTP: moto's standalone server, started by the tests on a free port."""

from __future__ import annotations

import uuid

import pytest
from botocore.config import Config

from tests.storage.moto_server import KEYS, FlakyProxy, MotoServer
from tests.uploads.conftest import token_client, tus_create, tus_patch  # noqa: F401 - shared fixtures


@pytest.fixture(scope="session")
def moto():
    server = MotoServer().start()
    yield server
    server.stop()


def bucket_storage(endpoint: str, bucket: str, *, attempts: int = 2) -> dict:
    """STORAGES["uploads"] for a bucket at ``endpoint``, as config/settings.py builds it."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint,
            "access_key": KEYS["aws_access_key_id"],
            "secret_key": KEYS["aws_secret_access_key"],
            "region_name": KEYS["region_name"],
            "default_acl": None,
            "file_overwrite": False,
            "max_memory_size": 8 * 1024 * 1024,
            "client_config": Config(
                s3={"addressing_style": "path"},
                connect_timeout=2,
                read_timeout=10,
                retries={"max_attempts": attempts, "mode": "standard"},
            ),
        },
    }


@pytest.fixture
def bucket(moto, settings):
    """A fresh bucket as the uploads storage; yields its name (objects read with ``moto.client()``)."""
    name = f"portal-{uuid.uuid4().hex[:12]}"
    moto.client().create_bucket(Bucket=name)
    settings.STORAGES = {**settings.STORAGES, "uploads": bucket_storage(moto.endpoint, name)}
    settings.UPLOAD_PART_SIZE = 5 * 1024 * 1024
    return name


@pytest.fixture
def flaky_bucket(moto, settings):
    """A fresh bucket reached through a proxy that can fail: yields (bucket name, proxy)."""
    name = f"portal-{uuid.uuid4().hex[:12]}"
    moto.client().create_bucket(Bucket=name)
    proxy = FlakyProxy(moto.port)
    settings.STORAGES = {**settings.STORAGES, "uploads": bucket_storage(proxy.endpoint, name, attempts=1)}
    settings.UPLOAD_PART_SIZE = 5 * 1024 * 1024
    yield name, proxy
    proxy.stop()


def objects(moto, bucket: str) -> dict[str, int]:
    """Every object of the bucket with its size."""
    found: dict[str, int] = {}
    for page in moto.client().get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", ()):
            found[item["Key"]] = item["Size"]
    return found


def multipart_uploads(moto, bucket: str) -> list[str]:
    return [item["Key"] for item in moto.client().list_multipart_uploads(Bucket=bucket).get("Uploads", ())]
