"""Issue 14's probe of the sign-off routes: a reason appended to a signed e-mail link, an endless reason,
and rich markup in a reason printed by the CLI.

GIVEN SignOffApi with stand-ins for its stores (the signature check and the claim stubbed), WHEN the
probe's inputs arrive, THEN the unsigned reason is not taken, a long one is refused naming ``reason``,
and the CLI prints markup literally.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from flitstack import cli
from shared import signoff_api
from shared.api import InvalidRequest
from shared.signoff_api import MAX_REASON_CHARS, SignOffApi

RUN = {"run_id": "run-42", "run": {"run_id": "run-42"}}


class Runs:
    def get(self, run_id: str) -> dict[str, Any] | None:
        return RUN if run_id == "run-42" else None


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> tuple[SignOffApi, list[str | None]]:
    decided: list[str | None] = []
    service = SignOffApi(Runs(), None, None, None, lambda: [b"k"], lambda: "s")  # type: ignore[arg-type]
    monkeypatch.setattr(signoff_api, "verify_link", lambda *a, **k: None)
    monkeypatch.setattr(signoff_api.RunRef, "model_validate", staticmethod(lambda value: value))
    monkeypatch.setattr(service, "_pending", lambda run_id, stage=None: "ap-1")

    def decide(approval_id: str, run_id: str, decision: str, via: str, by: str, reason: str | None) -> dict[str, Any]:
        decided.append(reason)
        return {"id": run_id, "stage": "sample", "decision": decision, "by": by, "via": via, "reason": reason or ""}

    monkeypatch.setattr(service, "_decide", decide)
    return service, decided


def test_a_reason_added_to_the_signed_form_is_not_taken(api: Any) -> None:
    service, decided = api
    status, _ = service.link_decision("ap-1", "reject", {"run": "run-42", "stage": "sample", "exp": "9", "sig": "x",
                                                "reason": "[bold red]approved by the CFO[/] " + "x" * 10_000})
    assert status == 200
    assert decided == ["rejected with the e-mail link"]


def test_a_reason_over_the_cap_is_refused_naming_reason(api: Any) -> None:
    service, decided = api
    with pytest.raises(InvalidRequest) as refused:
        service.operator_decision("run-42", "reject", "op", {"reason": "x" * (MAX_REASON_CHARS + 1)})
    assert refused.value.body()["errors"][0]["field"] == "reason"
    assert service.operator_decision("run-42", "reject", "op", {"reason": "wrong owners"})["reason"] == "wrong owners"
    assert decided == ["wrong owners"]


def test_rich_markup_in_a_reason_is_printed_literally() -> None:
    out = io.StringIO()
    cli._print_summary(Console(file=out, width=200), {"run_id": "run-42", "status": "rejected", "seconds": 1,
                                                      "ended": {"reason": "[/bold][link=x]click[/link] [red"}})
    assert "[/bold][link=x]click[/link] [red" in out.getvalue()
