"""``POST /estimates`` and ``flitstack estimate`` at the edge: the request names the pair by its connectors'
kinds (validated against the registry, each refusal naming the field), then the domain estimate
(``shared.domain.estimate``) runs with the pair's object table and the destination's declared capabilities
and cost model. No credentials, no connection.
"""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from shared.connectors import registry
from shared.domain.estimate import Estimate, EstimateInput, estimate
from shared.pairs import for_pair, pair_name


class EstimateRequest(EstimateInput):
    """The pair (by kinds) and what a person knows of the tenant."""

    source: str = Field(description="source kind, e.g. sercom")
    destination: str = Field(description="destination kind, e.g. salesforce")

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if value not in registry.kinds("source"):
            raise ValueError(f"{value[:80]!r} is not a source (allowed: {registry.kinds('source')})")
        return value

    @field_validator("destination")
    @classmethod
    def _destination(cls, value: str, info: ValidationInfo) -> str:
        if value not in registry.kinds("destination"):
            raise ValueError(f"{value[:80]!r} is not a destination (allowed: {registry.kinds('destination')})")
        source = info.data.get("source")
        if source is not None and pair_name(source, value) is None:
            raise ValueError(f"no pair migrates {source} into {value}")
        return value


def estimate_request(request: EstimateRequest) -> Estimate:
    """The estimate of a validated request (its pair exists: the validators refused any other)."""
    pair = pair_name(request.source, request.destination)
    if pair is None:  # unreachable after validation; kept for a request built without it
        raise ValueError(f"no pair migrates {request.source} into {request.destination}")
    template, dest = for_pair(pair), registry.destination(request.destination)
    return estimate(request, pair, template.OBJECT_TABLE, template.CREATED_OBJECTS, dest.capabilities,
                    dest.write_cost, dest.label)
