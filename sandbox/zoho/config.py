"""Knobs of the Zoho CRM v8 stand-in (``GET/POST /__standin/config``).

Sourced defaults come from ``docs/zoho-standin.md`` (which cites the reference); every
behaviour that could not be confirmed is a knob whose description says UNCONFIRMED, so a
test can flip it when the real answer turns out to differ.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sandbox.zoho.schema import DEAL_STAGES

API_VERSION = "v8"
Edition = Literal["free", "standard", "professional", "enterprise", "ultimate"]
EDITION_ORDER: tuple[str, ...] = ("free", "standard", "professional", "enterprise", "ultimate")

# Rolling-24 h credits: (base, per user licence, cap or None) — Zoho "API limits" page (reference §3.2).
CREDITS_BY_EDITION: dict[str, tuple[int, int, int | None]] = {
    "free": (5_000, 0, 5_000),
    "standard": (50_000, 250, 100_000),
    "professional": (50_000, 500, 3_000_000),
    "enterprise": (50_000, 1_000, 5_000_000),
    "ultimate": (50_000, 2_000, None),
}
# Concurrent calls per org per app (reference §3.2, secondary summary: UNCONFIRMED exact numbers).
CONCURRENCY_BY_EDITION: dict[str, int] = {
    "free": 5, "standard": 10, "professional": 15, "enterprise": 20, "ultimate": 25,
}


class ZohoStandinConfig(BaseModel):
    """Every knob, validated (an unknown knob is refused so a typo cannot silently do nothing)."""

    model_config = ConfigDict(extra="forbid")

    # Edition and licences
    edition: Edition = Field(default="enterprise")
    api_min_edition: Edition = Field(
        default="professional",
        description="lowest edition whose API calls are served; below it every CRM call answers 403 "
        "FEATURE_NOT_SUPPORTED (status and wording UNCONFIRMED)",
    )
    user_licences: int | None = Field(
        default=None, ge=0, description="licences counted by the credit formula; None = the active users"
    )
    # Credits and concurrency
    credits_per_day: int | None = Field(
        default=None, ge=0, description="override the edition formula (tests use small budgets)"
    )
    credit_window_s: float = Field(default=86_400.0, gt=0, description="rolling window (24 h)")
    concurrency_limit: int | None = Field(default=None, ge=1, description="override the edition's limit")
    credits_header: str = Field(
        default="X-API-CREDITS-REMAINING",
        description="response header carrying the remaining credits (name UNCONFIRMED); empty = never sent",
    )
    credits_header_after_fraction: float = Field(
        default=0.0, ge=0.0, le=1.0,
        description="send the header only once this share of the budget is used (Zoho: ~0.5, UNCONFIRMED)",
    )
    coql_credit_steps: list[tuple[int, int]] = Field(
        default=[(200, 1), (1000, 2), (2000, 3)],
        description="COQL cost by LIMIT: (up to, credits) (UNCONFIRMED)",
    )
    # Limits
    max_records_per_call: int = Field(default=100, ge=1)
    max_per_page: int = Field(default=200, ge=1)
    max_page_records: int = Field(default=2000, ge=1, description="page-based reads stop here; then page_token")
    max_fields_param: int = Field(default=50, ge=1)
    max_participants: int = Field(default=50, ge=1)
    max_coql_limit: int = Field(default=2000, ge=1)
    page_token_ttl_s: float = Field(default=86_400.0, gt=0)
    attachment_max_bytes: int = Field(default=25 * 1024 * 1024, ge=0, description="v8 limit UNCONFIRMED")
    bulk_max_rows: int = Field(default=25_000, ge=1)
    bulk_status_credits: int = Field(default=0, ge=0, description="credits per bulk job status poll (UNCONFIRMED)")
    bulk_upload_credits: int = Field(default=0, ge=0, description="credits per file upload (UNCONFIRMED)")
    bulk_job_delay_s: float = Field(default=0.3, ge=0.0, description="a job stays ADDED/IN PROGRESS this long")
    # Behaviour variants (UNCONFIRMED)
    readonly_timestamps: Literal["ignore", "invalid_data"] = Field(
        default="ignore",
        description="Created_Time/Modified_Time sent on a write: silently ignored, or a per-record INVALID_DATA",
    )
    unknown_fields: Literal["ignore", "invalid_data"] = Field(
        default="ignore", description="a key that is no field of the module: ignored or INVALID_DATA"
    )
    all_success_status: int = Field(default=201, description="insert/upsert where every record succeeded")
    all_failed_status: int = Field(default=400, description="a write call where every record failed")
    pipelines_enabled: bool = Field(default=True, description="Deals need Pipeline and its Stage")
    pipelines: dict[str, list[str]] = Field(
        default_factory=dict, description="Deals pipelines besides Standard: name -> its stages (values of the "
        "Stage pick-list, in order); a deal's Stage must be one of its pipeline's")
    coql_where_required: bool = Field(default=False, description="COQL refuses a query without WHERE")
    workflow_rules_enabled: bool = Field(
        default=True, description="the seeded workflow: a Lead inserted with triggers on gets a follow-up Task"
    )
    token_ttl_s: int = Field(default=3600, ge=0, description="0 = access tokens never expire")
    # Faults (CRM calls only; never the accounts host or /__standin)
    fault_5xx_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    fault_throttle_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    fault_timeout_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    fault_timeout_s: float = Field(default=20.0, ge=0.0)
    latency_ms: int = Field(default=0, ge=0)
    fault_seed: int | None = None

    @field_validator("pipelines")
    @classmethod
    def _stages_known(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        known = {s for s, _, _ in DEAL_STAGES}
        for name, stages in value.items():
            unknown = [s for s in stages if s not in known]
            if name == "Standard" or not stages or unknown:
                raise ValueError(f"pipeline {name!r}: a new name whose stages are Stage pick-list values "
                                 f"({sorted(known)}); not {unknown or stages or name}")
        return value

    def daily_credits(self, active_users: int) -> int:
        """The rolling-window budget: base + per-user x licences, capped by the edition."""
        if self.credits_per_day is not None:
            return self.credits_per_day
        base, per_user, cap = CREDITS_BY_EDITION[self.edition]
        users = active_users if self.user_licences is None else self.user_licences
        total = base + per_user * users
        return min(total, cap) if cap is not None else total

    def concurrency(self) -> int:
        return self.concurrency_limit or CONCURRENCY_BY_EDITION[self.edition]

    def api_allowed(self) -> bool:
        return EDITION_ORDER.index(self.edition) >= EDITION_ORDER.index(self.api_min_edition)
