"""ServiceTracker's test kit."""

from __future__ import annotations

from pathlib import Path

import httpx

from sandbox.serve import RunningStandin, start_standin
from shared.connectors.servicetracker.client import ServiceTrackerSource
from tests.kits import SourceKit


def _throttle(standin: RunningStandin, per_s: int) -> None:
    httpx.post(standin.url + "/__standin/config", json={"rate_limit_per_s": per_s}, verify=standin.ca_path,
               headers={"Authorization": f"Bearer {standin.info['api_token']}"}).raise_for_status()


KIT = SourceKit(
    name="servicetracker",
    start=lambda d: start_standin("servicetracker", ["--state", str(d / "s.sqlite"), "--records", "400", "--seed", "2",
                                                     "--rate-limit-per-s", "0", "--export-processing-s", "0.2"]),
    connect=lambda s: ServiceTrackerSource(s.url, s.info["api_token"], Path(s.ca_path).read_text()),
    throttle=_throttle,
    attachment_object="attachments",
    delta_object="work_orders",
)
