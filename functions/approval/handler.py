"""Approval step: open a sign-off and notify (the ``.waitForTaskToken`` Task), or end an unapproved run."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from shared.approvals import STAGES, ApprovalStore
from shared.domain import approval
from shared.errors import ConfigurationError
from shared.handler import Op, lambda_handler, stores
from shared.notify import Notifier, approval_config
from shared.settings import get_approval_settings, get_settings
from shared.steps import ApprovalRequestIn, ApprovalRequestOut, EndUnapprovedIn, EndUnapprovedOut


@lru_cache(maxsize=1)
def _approvals() -> ApprovalStore:
    return ApprovalStore(get_settings().approvals_table)


def _request(step: ApprovalRequestIn) -> dict[str, Any]:
    config = approval_config()
    public_url = get_approval_settings().public_api_url
    if not public_url:
        raise ConfigurationError("PUBLIC_API_URL is not set: approval links would point nowhere")
    stage = step.stage
    if stage not in STAGES:
        raise ConfigurationError(f"stage {stage!r} is not a sign-off stage (allowed: {list(STAGES)})")
    return approval.request(step.run, stage, step.token, stores(), _approvals(),
                            Notifier(config), approval.LinkKeys(config.link_keys), public_url)


def _end_unapproved(step: EndUnapprovedIn) -> dict[str, Any]:
    return approval.end_unapproved(step.run, stores(), _approvals(),
                                   step.model_dump(mode="json", by_alias=True, exclude_none=True))


OPS: dict[str, Op[Any, Any]] = {
    "request_approval": Op(ApprovalRequestIn, ApprovalRequestOut, _request),
    "end_unapproved": Op(EndUnapprovedIn, EndUnapprovedOut, _end_unapproved),
}

handler = lambda_handler(OPS)
