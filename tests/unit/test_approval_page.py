"""E-mailed approval links: GET shows a confirmation page and decides nothing; the page's POST decides once.

GIVEN SignOffApi with real link signatures and fakes of the approval store (our port), WHEN a link is
opened (GET) any number of times, THEN nothing is claimed and the page names the run, the stage, what each
answer does and carries one POST form per decision; WHEN a form is posted, THEN the approval is claimed
with that decision; an altered form, an expired link or a decided approval is refused.
"""

from __future__ import annotations

import html
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.approvals import ApprovalRefused, ClaimedApproval, make_link
from shared.signoff_api import PAGE_HEADERS, SignOffApi

KEY = b"k" * 48
RUN = "run-7"


class Approvals:
    def __init__(self) -> None:
        self.status = "pending"
        self.claims: list[str] = []

    def approvals_of(self, run_id: str) -> list[dict[str, Any]]:
        if run_id != RUN:
            return []
        return [{"approval_id": "ap1", "run_id": RUN, "stage": "sample", "status": self.status,
                 "created_at": 1, "expires_at": int(time.time()) + 600}]

    def claim(self, approval_id: str, *, run_id: str, decision: str, via: str, by: str, reason: str | None,
              now: float) -> ClaimedApproval:
        if self.status != "pending":
            raise ApprovalRefused("already_decided", f"this approval was already {self.status}")
        self.status = "approved" if decision == "approve" else "rejected"
        self.claims.append(decision)
        return ClaimedApproval(approval_id=approval_id, run_id=run_id, stage="sample", decision=decision,  # type: ignore[arg-type]
                               status=self.status, via=via, by=by, reason=reason, decided_at=int(now),  # type: ignore[arg-type]
                               task_token="tok")


class Answers:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def succeed(self, task_token: str, output: dict[str, Any]) -> None:
        self.sent.append(output)


class Runs:
    def get(self, run_id: str) -> dict[str, Any] | None:
        return {"run_id": RUN, "run": {"destination": {"kind": "dynamics"}}} if run_id == RUN else None

    def update(self, run_id: str, **fields: Any) -> None:
        pass


@pytest.fixture
def service() -> tuple[SignOffApi, Approvals, Answers]:
    approvals, answers = Approvals(), Answers()
    return SignOffApi(Runs(), None, approvals, answers, lambda: [KEY], lambda: "s"), approvals, answers  # type: ignore[arg-type]


def link(decision: str, expires_at: int | None = None) -> tuple[str, str, dict[str, str]]:
    url = make_link("https://api.example/v1", KEY, approval_id="ap1", run_id=RUN, stage="sample",
                    decision=decision, expires_at=expires_at or int(time.time()) + 600)  # type: ignore[arg-type]
    parts = urlsplit(url)
    return parts.path.split("/")[3], parts.path.split("/")[4], {k: v[0] for k, v in parse_qs(parts.query).items()}


def form_of(page: str, decision: str) -> dict[str, str]:
    section = page.split(f"id='{decision}-form'", 1)[1].split("</form>", 1)[0]
    return {k: html.unescape(v) for k, v in re.findall(r"name='(\w+)' value='([^']*)'>", section) if k != "decision"}


def test_opening_a_link_any_number_of_times_decides_nothing(service: Any) -> None:
    api, approvals, answers = service
    approval_id, decision, query = link("approve")
    for _ in range(3):
        status, page = api.confirm_page(approval_id, decision, query)
        assert status == 200
    assert approvals.claims == [] and answers.sent == []
    assert f"<span id='run'>{RUN}</span>" in page and "<strong id='stage'>sample</strong>" in page
    assert "full migration starts" in page and "removed from dynamics" in page
    assert page.index("id='approve-form'") < page.index("id='reject-form'")  # the clicked answer first
    assert "method='post' action='approve'" in page and "method='post' action='reject'" in page
    assert "frame-ancestors 'none'" in PAGE_HEADERS["Content-Security-Policy"]


def test_the_page_post_decides_once_and_either_button_works(service: Any) -> None:
    api, approvals, answers = service
    approval_id, _, query = link("approve")
    _, page = api.confirm_page(approval_id, "approve", query)
    reject_form = form_of(page, "reject")  # minted by the page: the Reject button works from the Approve link
    assert set(reject_form) == {"run", "stage", "exp", "sig"} and reject_form["sig"] != query["sig"]
    status, done = api.link_decision(approval_id, "reject", reject_form)
    assert status == 200 and "rejected" in done
    assert approvals.claims == ["reject"] and answers.sent[0]["decision"] == "reject"
    assert api.link_decision(approval_id, "approve", form_of(page, "approve"))[0] == 409
    assert api.confirm_page(approval_id, "approve", query)[0] == 409  # the page says it was decided


@pytest.mark.parametrize("change", [{"stage": "mapping"}, {"run": "run-8"}, {"exp": "99999999999"}, {"sig": "x"}])
def test_an_altered_form_is_forged(service: Any, change: dict[str, str]) -> None:
    api, approvals, _ = service
    approval_id, _, query = link("approve")
    assert api.link_decision(approval_id, "approve", {**query, **change})[0] == 403
    assert api.link_decision(approval_id, "reject", query)[0] == 403  # the approve signature is not a reject's
    assert approvals.claims == []


def test_an_expired_link_shows_no_buttons(service: Any) -> None:
    api, approvals, _ = service
    approval_id, decision, query = link("approve", expires_at=int(time.time()) - 1)
    status, page = api.confirm_page(approval_id, decision, query)
    assert status == 410 and "<form" not in page
    assert api.link_decision(approval_id, decision, query)[0] == 410
    assert approvals.claims == []
