"""Starting a stand-in: forked from the fork server or run afresh, it serves the same, and stops.

The fork server's processes start in its directory and environment of when it started; a stand-in runs in
the caller's (a relative ``--state`` is the caller's directory either way).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sandbox import serve
from sandbox.serve import Forked, start_standin, stop_standins


@pytest.mark.parametrize("how", ["fork", "exec"])
def test_a_standin_started_either_way_serves_and_stops(how: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLITSTACK_STANDIN_START", how)
    monkeypatch.chdir(tmp_path)
    running = start_standin("slack", ["--state", "slack.sqlite"])
    try:
        assert isinstance(running.process, Forked if how == "fork" else subprocess.Popen)
        assert running.info["pid"] == running.process.pid and running.info["pid"] != os.getpid()
        # a relative --state is the caller's directory, whichever way the process started
        assert Path(running.info["state_path"]) == tmp_path / "slack.sqlite"
        answer = httpx.get(running.url + "/__standin/messages", verify=running.ca_path, trust_env=False)
        assert answer.status_code == 200 and answer.json() == []
    finally:
        stop_standins([running])
    assert running.process.poll() is not None
    with pytest.raises(httpx.ConnectError):
        httpx.get(running.url + "/__standin/messages", verify=running.ca_path, trust_env=False, timeout=2)


def test_the_start_is_refused_for_an_unknown_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLITSTACK_STANDIN_START", "thread")
    with pytest.raises(ValueError, match="FLITSTACK_STANDIN_START='thread': allowed are 'auto', 'fork' and 'exec'"):
        start_standin("slack", ["--state", "x.sqlite"])


def test_auto_forks_unless_the_program_is_a_script_multiprocessing_would_run_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    main = sys.modules["__main__"]
    module_spec = type("Spec", (), {"name": "flitstack.__main__"})()
    plain_spec = type("Spec", (), {"name": "somemodule"})()
    for spec, file, rerun in [(module_spec, "/x/flitstack/__main__.py", False),  # python -m flitstack
                              (None, None, False),                              # python -c / xdist workers
                              (None, "/venv/bin/flitstack", True),              # the console script
                              (plain_spec, "/x/somemodule.py", True)]:          # python -m somemodule
        monkeypatch.setattr(main, "__spec__", spec, raising=False)
        if file is None:
            monkeypatch.delattr(main, "__file__", raising=False)
        else:
            monkeypatch.setattr(main, "__file__", file, raising=False)
        assert serve._main_is_rerun_by_forks() is rerun, (spec, file)
