"""ServiceTracker (field-service platform on the Salesforce platform), a source: its HTTPS API client
(bulk export for volume, REST for the rest), its custom-field discovery, its normalisation and
pre-flight check, its registry entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from shared.connectors.registry import Connector, SecretModel
from shared.connectors.source import SourceLimits


class ServiceTrackerSecret(SecretModel):
    api_token: str
    #: The tenant's per-token rate (requests per second) the client paces itself to; 0 = do not pace.
    requests_per_s: int = Field(default=10, ge=0)


#: ServiceTracker runs at most 3 export jobs at once per tenant (docs/servicetracker-api.md, Limits:
#: ``max_concurrent_exports``); one partition reader holds one job at a time, so three readers never
#: meet EXPORT_LIMIT_EXCEEDED from each other. It answers more than 10 requests per second per token with
#: 429 RATE_LIMITED (``rate_limit_per_s``): clients pace themselves to that, and file copies are paced to it.
LIMITS = SourceLimits(max_parallel_reads=3, requests_per_s=10)


def _open(secret: ServiceTrackerSecret) -> Any:
    from shared.connectors.servicetracker.client import ServiceTrackerSource

    return ServiceTrackerSource(secret.url, secret.api_token, secret.ca_pem, timeout_s=min(secret.timeout_s, 60.0),
                                requests_per_s=secret.requests_per_s)


def _standin_secret(info: dict[str, Any]) -> dict[str, Any]:
    return {"url": info["url"], "api_token": info["api_token"], "ca_pem": Path(info["ca_path"]).read_text(),
            "requests_per_s": info["rate_limit_per_s"]}


CONNECTOR = Connector(kind="servicetracker", label="ServiceTracker", role="source", secret=ServiceTrackerSecret,
                      open=_open, declared=LIMITS, standin="sandbox.servicetracker",
                      standin_secret=_standin_secret,
                      # local mode's tenant: every device synced, so an unattended demo is not held by the
                      # pre-flight (tests that exercise it serve --unsynced-devices N after these)
                      standin_local_args=("--unsynced-devices", "0"))
