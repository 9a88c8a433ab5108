"""Sercom's test kit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from sandbox.serve import RunningStandin, start_standin
from shared.connectors.sercom.client import SercomSource
from tests.kits import SourceKit


def _throttle(standin: RunningStandin, per_s: int) -> None:
    httpx.post(standin.url + "/__standin/config", json={"rate_limit_per_s": per_s}, verify=standin.ca_path,
               headers={"X-Api-Key": standin.info["api_key"]}).raise_for_status()


def _edit(standin: RunningStandin, obj: str, record_id: str, changes: dict[str, Any]) -> None:
    """Change a record through the stand-in's admin route (``updated_at`` moves to now)."""
    with httpx.Client(base_url=standin.url, verify=standin.ca_path, headers={"X-Api-Key": standin.info["api_key"]},
                      timeout=30, trust_env=False) as api:
        record = api.get(f"/api/v1/{obj}/{record_id}")
        record.raise_for_status()
        fresh = {k: v for k, v in record.json().items() if k not in ("created_at", "updated_at")}
        api.post(f"/__standin/records/{obj}", json={**fresh, **changes}).raise_for_status()


KIT = SourceKit(
    name="sercom",
    start=lambda d: start_standin("sercom", ["--state", str(d / "s.sqlite"), "--records", "400", "--seed", "2",
                                             "--rate-limit-per-s", "0"]),
    connect=lambda s: SercomSource(s.url, s.info["api_key"], Path(s.ca_path).read_text()),
    throttle=_throttle,
    attachment_object="attachments",
    delta_object="work_orders",
    edit=_edit,
)
