"""The source's pre-flight check, right before the full load: blocks it until the source is ready or a
person overrode it at the sample sign-off.

Why here: the check is live (devices sync while the run waits), and it guards what cannot be taken back
cheaply — the full run. Discovery shows the same check in the plan (``reports/mapping.md``) so the
person signing off the sample sees it before approving; approving the sample with the check still
blocking *is* the override, recorded with who, how and when in ``reports/readiness.json``. Without a
person (automatic approval) nothing overrides it: the run waits ``options.preflight_poll_s`` and
checks again (the workflow's SourceNotReadyPause), so it continues the moment the devices have synced.
"""

from __future__ import annotations

import json
from typing import Any

from shared.aws import Stores, now_iso
from shared.connectors.source import Source
from shared.domain.keys import Keys
from shared.errors import SourceNotReadyError
from shared.models import RunRef


def _override(stores: Stores, run: RunRef) -> dict[str, Any] | None:
    """The person's decision that overrides a blocking check: an approved sample sign-off."""
    item = stores.runs.get(run.run_id) or {}
    approval = item.get("approval") if isinstance(item.get("approval"), dict) else None
    if approval and approval.get("stage") == "sample" and approval.get("status") == "approved":
        return {k: approval.get(k) for k in ("decided_by", "decided_via", "decided_at", "reason")}
    return None


def check(run: RunRef, source: Source, stores: Stores) -> dict[str, Any]:
    """Pass (ready, or overridden) with the result written to ``reports/readiness.json``; else raise
    :class:`SourceNotReadyError` after marking the run as waiting."""
    result = dict(source.preflight())
    result["checked_at"] = now_iso()
    if result.get("blocking"):
        override = _override(stores, run)
        if override is None:
            stores.runs.update(run.run_id, status="waiting", step=f"Pre-flight: {result.get('message')}")
            stores.blobs.put_text(Keys(run).report("readiness.json"), json.dumps(result, indent=2, default=str),
                                  "application/json")
            raise SourceNotReadyError(str(result.get("message") or "the source is not ready for the full run"))
        result["overridden"] = override
    stores.runs.update(run.run_id, status="running")  # no longer waiting for the source
    stores.blobs.put_text(Keys(run).report("readiness.json"), json.dumps(result, indent=2, default=str),
                          "application/json")
    return {"blocking": bool(result.get("blocking")), "overridden": "overridden" in result}
