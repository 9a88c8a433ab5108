"""Run a stand-in ASGI app over HTTPS on loopback, in its own process.

Each stand-in module exposes ``build_app(...)``; its ``__main__`` calls :func:`serve_https`,
which binds the socket first (port 0 picks a free port), announces one JSON object describing
the server (url, CA path, credentials, state path) and then serves until terminated.
:func:`start_standin` is the parent side: it starts ``sandbox.<kind>``'s ``main(["serve", ...])`` in a
process of its own and returns that JSON once the server accepts connections.

How the process starts (``FLITSTACK_STANDIN_START``): ``fork`` forks it from multiprocessing's fork
server, a process that imported the libraries every stand-in serves with (FastAPI, uvicorn, TLS) once, so
each start skips about half a second of imports; ``exec`` runs ``python -m sandbox.<kind> serve`` afresh, as
a person would from a shell (the JSON is its first stdout line). ``auto`` (the default) forks when the
calling program was started as ``python -m PACKAGE`` or ``python -c`` (pytest and its workers, ``python -m
flitstack``, ``make bench``) and runs afresh otherwise: a program started from a script path (the
``flitstack`` console script) would have multiprocessing run that script again in every forked process.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import multiprocessing
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
#: What the fork server imports once (the libraries of every stand-in; each kind's own modules are imported in its
#: process, so a stand-in's memory holds no other kind's code).
PRELOAD = ["fastapi", "starlette.applications", "uvicorn", "uvicorn.protocols.http.h11_impl",
           "uvicorn.lifespan.on", "uvicorn.loops.asyncio", "pydantic", "sandbox.serve", "sandbox.tls",
           "sandbox.sqlite_store"]
#: Where a forked stand-in sends its announcement (``None``: printed on stdout, as ``python -m`` does).
_announce_to: Any = None


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
    if _announce_to is not None:
        _announce_to.send(described)
        _announce_to.close()
    else:
        print(json.dumps(described), flush=True)
    server.run(sockets=[sock])


@dataclass
class RunningStandin:
    """A stand-in process started by :func:`start_standin`."""

    kind: str
    info: dict[str, Any]
    process: subprocess.Popen[str] | Forked

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


class Forked:
    """A stand-in forked from the fork server, answering as much of ``subprocess.Popen`` as stopping one needs."""

    def __init__(self, process: multiprocessing.process.BaseProcess) -> None:
        self._process = process

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def terminate(self) -> None:
        self._process.terminate()

    def kill(self) -> None:
        self._process.kill()

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(f"stand-in {self._process.name}", timeout or 0)
        return self._process.exitcode


def _forked_main(kind: str, args: list[str], environ: dict[str, str], cwd: str, announce: Any) -> None:
    """In the forked process: the caller's environment and directory (the fork server's are from when it
    started), then the stand-in's own ``main``, announcing through ``announce``."""
    global _announce_to  # noqa: PLW0603 (this process's one announcement)
    os.environ.clear()
    os.environ.update(environ)
    os.chdir(cwd)
    _die_with_parent()  # its parent is the fork server, which exits when the process that started it does
    _announce_to = announce
    sys.argv = [f"sandbox.{kind}", "serve", *args]
    raise SystemExit(importlib.import_module(f"sandbox.{kind}.__main__").main(["serve", *args]))


def _start_forked(kind: str, args: list[str], timeout_s: float) -> tuple[dict[str, Any], Forked]:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_forked_main, name=kind, daemon=True,
                              args=(kind, args, dict(os.environ), os.getcwd(), send))
    process.start()
    send.close()
    forked = Forked(process)
    try:
        if not receive.poll(timeout_s):
            raise TimeoutError(f"stand-in {kind} did not announce itself within {timeout_s} s")
        info: dict[str, Any] = receive.recv()
    except EOFError:
        process.join(5)
        raise RuntimeError(f"stand-in {kind} exited with {process.exitcode} before announcing itself") from None
    except BaseException:
        process.kill()
        raise
    finally:
        receive.close()
    return info, forked


def _start_exec(kind: str, args: list[str]) -> tuple[dict[str, Any], subprocess.Popen[str]]:
    cmd = [sys.executable, "-m", f"sandbox.{kind}", "serve", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, preexec_fn=_die_with_parent)  # noqa: S603, PLW1509
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=5)
        raise RuntimeError(f"stand-in {kind} exited with {proc.returncode} before announcing itself")
    return json.loads(line), proc


def _main_is_rerun_by_forks() -> bool:
    """Whether multiprocessing would run this program's ``__main__`` again in a process it starts: yes for a
    script run by its path, no for ``python -m PACKAGE`` (its ``__main__`` submodule) and ``python -c``."""
    main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", None)
    if name is not None:
        return not (name == "__main__" or name.endswith(".__main__"))
    return getattr(main, "__file__", None) is not None


def start_standin(kind: str, args: list[str], *, timeout_s: float = 60.0) -> RunningStandin:
    """Start the ``kind`` stand-in serving with ``ARGS`` (``serve``'s options) and wait until it accepts TLS
    connections: forked from the fork server or run as ``python -m sandbox.<kind> serve ARGS``, as
    ``FLITSTACK_STANDIN_START`` says (module docstring)."""
    how = os.environ.get("FLITSTACK_STANDIN_START", "auto")
    if how not in ("auto", "fork", "exec"):
        raise ValueError(f"FLITSTACK_STANDIN_START={how!r}: allowed are 'auto', 'fork' and 'exec'")
    if how == "auto":
        how = "exec" if _main_is_rerun_by_forks() else "fork"
    proc: subprocess.Popen[str] | Forked
    info, proc = _start_forked(kind, args, timeout_s) if how == "fork" else _start_exec(kind, args)
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
