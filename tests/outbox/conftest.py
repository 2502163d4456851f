"""A broker that is down: the Celery app pointed at a port where nothing listens (Redis transport), as
when Redis is stopped; and back again."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from kombu import pools

from config.celery import app
from tests.uploads.conftest import token_client, tus_create, tus_patch  # noqa: F401 - shared fixtures


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def point_app(url: str, options: dict, transport: str | None = None) -> None:
    app.conf.broker_url = url
    app.conf.broker_transport_options = options
    app.conf.broker_transport = transport  # the embedded setup names its own transport class
    # Connections and producers are pooled per app and in kombu's global pools: drop them.
    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


class BrokerSwitch:
    def __init__(self) -> None:
        self.saved = (
            app.conf.broker_url,
            dict(app.conf.broker_transport_options or {}),
            app.conf.broker_transport,
        )
        self.dead_url = f"redis://127.0.0.1:{_free_port()}/0"

    def down(self) -> None:
        point_app(self.dead_url, {"socket_connect_timeout": 1})

    def up(self) -> None:
        point_app(*self.saved)


@pytest.fixture
def broker_switch() -> Iterator[BrokerSwitch]:
    switch = BrokerSwitch()
    try:
        yield switch
    finally:
        switch.up()


@pytest.fixture
def eager_app(monkeypatch):
    """Tasks run in the test's process when published (as a worker would run them, signals included)."""
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    monkeypatch.setitem(app.conf, "task_eager_propagates", False)
    return app
