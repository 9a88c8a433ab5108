"""Every behaviour knob of the ServiceTracker stand-in, in one pydantic model.

Knobs exist to inject trouble (faults, tiny limits) and to pin behaviour whose real values
are UNCONFIRMED: ServiceTracker publishes no API reference, so its limits here are
FlitStack's definition, sized like the platform it runs on (the pair page: "inherits
Salesforce platform API rate limits"). All can be changed while the server runs via
``POST /__standin/config``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

API_PREFIX = "/v2"
ADMIN_PREFIX = "/__standin"


class StandinConfig(BaseModel):
    """Run-time configuration; ``extra="forbid"`` so a misspelt knob is a 400, not a no-op."""

    model_config = ConfigDict(extra="forbid")

    # Limits (UNCONFIRMED values; the shapes are documented in docs/servicetracker-api.md)
    daily_request_limit: int = Field(default=100_000, ge=1, description="API calls per rolling 24 h (all tokens)")
    rate_limit_per_s: int = Field(default=10, ge=0, description="calls per token per rolling second; 0 = off")
    max_concurrent_exports: int = Field(default=3, ge=1, description="export jobs queued or in progress at once")
    export_processing_s: float = Field(default=1.0, ge=0, description="fixed time before an export job completes")
    export_records_per_s: int = Field(default=50_000, ge=1, description="added processing time per record")
    export_page_records: int = Field(default=10_000, ge=1, le=100_000, description="records per result page")
    export_ttl_s: float = Field(default=86_400.0, gt=0, description="a completed job's results expire after this")
    default_page_size: int = Field(default=50, ge=1)
    max_page_size: int = Field(default=200, ge=1, le=1000)
    max_offset: int = Field(default=10_000, ge=1, description="records reachable by page/page_size paging")
    # Custom fields the form builder made but the schema endpoint does not list
    schema_hidden_custom_field_share: float = Field(default=0.35, ge=0, le=1)
    # Faults
    latency_ms: int = Field(default=0, ge=0, le=60_000)
    fault_5xx_rate: float = Field(default=0.0, ge=0, le=1)
    fault_429_rate: float = Field(default=0.0, ge=0, le=1, description="injected per-second throttling")
    fault_timeout_rate: float = Field(default=0.0, ge=0, le=1, description="calls that stall, then answer 504")
    fault_timeout_s: float = Field(default=20.0, ge=0)
    fault_retry_after_s: int = Field(default=2, ge=1, description="Retry-After of injected 429s")
    fault_seed: int | None = None
