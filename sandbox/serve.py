"""Run a stand-in ASGI app over HTTPS on loopback, in its own process.

Each stand-in module exposes ``build_app(...)``; its ``__main__`` calls :func:`serve_https`,
which binds the socket first (port 0 picks a free port), prints one JSON line describing
the server (url, CA path, credentials, state path) and then serves until terminated.
:func:`start_standin` is the parent side: it launches ``python -m sandbox.<kind> serve``
and returns that JSON once the server accepts connections.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from sandbox.tls import ensure_tls

LOOPBACK = "127.0.0.1"


def prepare_state(state: Path, users_file: Path | None, create: Callable[[Path, list[dict[str, Any]]], object]
                  ) -> Path:
    """The absolute state path, created with ``users_file``'s users when missing (an existing state
    is served as it is: its users are not touched)."""
    state = state.resolve()
    state.parent.mkdir(parents=True, exist_ok=True)
    if not state.exists():
        create(state, json.loads(users_file.read_text()) if users_file else [])
    elif users_file:
        print(f"note: {state} exists; --users-file ignored", file=sys.stderr)
    return state


def serve_https(app: Any, *, port: int, tls_dir: Path, info: dict[str, Any]) -> None:
    """Serve ``app`` with TLS on ``127.0.0.1:port``; print ``info`` + url/ca as one JSON line first."""
    tls = ensure_tls(tls_dir)
    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY on accepted sockets only when the listening
    # socket says it is TCP (``sock.proto``); created without it, every small response waits ~40 ms on Nagle.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((LOOPBACK, port))
    sock.listen(512)
    bound = sock.getsockname()[1]
    described = {**info, "url": f"https://{LOOPBACK}:{bound}", "ca_path": str(tls.ca_path), "pid": os.getpid()}
    config = uvicorn.Config(
        app,
        ssl_certfile=str(tls.cert_path),
        ssl_keyfile=str(tls.key_path),
        log_level="warning",
        access_log=False,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    print(json.dumps(described), flush=True)
    server.run(sockets=[sock])


@dataclass
class RunningStandin:
    """A stand-in process started by :func:`start_standin`."""

    kind: str
    info: dict[str, Any]
    process: subprocess.Popen[str]

    @property
    def url(self) -> str:
        return str(self.info["url"])

    @property
    def ca_path(self) -> str:
        return str(self.info["ca_path"])

    def stop(self) -> None:
        stop_standins([self])


def stop_standins(standins: list[RunningStandin]) -> None:
    """SIGTERM every stand-in, then wait for each (killed after 10 s): they shut down side by side (each takes
    about half a second to close its connections and exit)."""
    running = [s for s in standins if s.process.poll() is None]
    for standin in running:
        standin.process.terminate()
    for standin in running:
        try:
            standin.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            standin.process.kill()
            standin.process.wait(timeout=5)


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM it when the parent dies, so no stand-in outlives its runner."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start_standin(kind: str, args: list[str], *, timeout_s: float = 60.0) -> RunningStandin:
    """Start ``python -m sandbox.<kind> serve ARGS`` and wait until it accepts TLS connections."""
    cmd = [sys.executable, "-m", f"sandbox.{kind}", "serve", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, preexec_fn=_die_with_parent)  # noqa: S603, PLW1509
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=5)
        raise RuntimeError(f"stand-in {kind} exited with {proc.returncode} before announcing itself")
    info = json.loads(line)
    host, port = LOOPBACK, int(info["url"].rsplit(":", 1)[1])
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)
    return RunningStandin(kind, info, proc)
