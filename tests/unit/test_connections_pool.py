"""Destination clients are lent to one thread at a time and reused: local mode's request threads come and go,
the clients they opened do not pile up (the secret read and the connector's constructor are replaced here: what
is under test is who gets which client)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from shared import connections
from shared.connectors import registry
from shared.models import Endpoint


class _Client:
    def __init__(self, secret: dict[str, Any]) -> None:
        self.secret = secret
        self.closed = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[_Client]]:
    made: list[_Client] = []
    secrets = {"flitstack/pool-a": {"user": "a"}, "flitstack/pool-b": {"user": "b"}}
    monkeypatch.setattr(connections, "_secret", lambda name: dict(secrets[name]))

    def open_destination(kind: str, name: str, secret: dict[str, Any]) -> _Client:
        made.append(_Client(secret))
        return made[-1]

    monkeypatch.setattr(registry, "open_destination", open_destination)
    connections.close_all()
    yield made
    connections.release_thread()
    connections.close_all()


A = Endpoint(kind="salesforce", secret_name="flitstack/pool-a")
B = Endpoint(kind="salesforce", secret_name="flitstack/pool-b")


def _in_thread(fn: Any) -> Any:
    out: list[Any] = []
    worker = threading.Thread(target=lambda: out.append(fn()))
    worker.start()
    worker.join()
    return out[0]


def test_a_thread_keeps_its_client_until_it_gives_it_back(opened: list[_Client]) -> None:
    first = connections.open_destination(A)
    assert connections.open_destination(A) is first  # the same thread, the same client
    assert connections.open_destination(B) is not first  # another secret, another client
    other = _in_thread(lambda: connections.open_destination(A))
    assert other is not first  # a client is never shared by two threads at once
    assert len(opened) == 3


def test_threads_that_come_and_go_reuse_the_clients_given_back(opened: list[_Client]) -> None:
    def invocation() -> _Client:
        try:
            return connections.open_destination(A)  # type: ignore[return-value]
        finally:
            connections.release_thread()  # what local mode's dispatcher does after each handler

    seen = {id(_in_thread(invocation)) for _ in range(50)}
    assert len(opened) == 1 and len(seen) == 1  # fifty request threads, one client

    # two at once need two; both go back to the pool and serve later threads
    gate, ready = threading.Barrier(2), []

    def concurrent() -> None:
        ready.append(connections.open_destination(A))
        gate.wait()
        connections.release_thread()

    workers = [threading.Thread(target=concurrent) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(opened) == 2 and ready[0] is not ready[1]
    assert {id(_in_thread(invocation)) for _ in range(10)} <= {id(c) for c in opened}


def test_a_rotated_secret_gets_a_new_client_and_close_all_closes_every_one(
        opened: list[_Client], monkeypatch: pytest.MonkeyPatch) -> None:
    before = connections.open_destination(A)
    connections.release_thread()
    monkeypatch.setattr(connections, "_secret", lambda name: {"user": "a", "key": "rotated"})
    after = connections.open_destination(A)
    assert after is not before and after.secret["key"] == "rotated"  # type: ignore[attr-defined]
    lent = _in_thread(lambda: connections.open_destination(B))  # held by a thread that ended without giving back
    connections.close_all()
    assert all(c.closed for c in opened) and {id(before), id(after), id(lent)} <= {id(c) for c in opened}
