"""Sercom (field-service CRM), a source: its HTTPS API client, its normalisation, its registry entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shared.connectors.registry import Connector, SecretModel
from shared.connectors.source import SourceLimits


class SercomSecret(SecretModel):
    api_key: str


#: Sercom allows 25 calls per API key per rolling second (docs/sercom-api.md, Limits); four partition
#: readers, each one page call at a time, stay under it with room for Retry-After pauses; four file
#: copiers are paced to 25 calls/s together.
LIMITS = SourceLimits(max_parallel_reads=4, requests_per_s=25)


def _open(secret: SercomSecret) -> Any:
    from shared.connectors.sercom.client import SercomSource

    return SercomSource(secret.url, secret.api_key, secret.ca_pem, timeout_s=min(secret.timeout_s, 60.0))


def _standin_secret(info: dict[str, Any]) -> dict[str, Any]:
    return {"url": info["url"], "api_key": info["api_key"], "ca_pem": Path(info["ca_path"]).read_text()}


CONNECTOR = Connector(kind="sercom", label="Sercom", role="source", secret=SercomSecret, open=_open,
                      declared=LIMITS, standin="sandbox.sercom", standin_secret=_standin_secret)
