"""Every behaviour knob of the stand-in, in one pydantic model.

Knobs exist for two reasons: to inject trouble (faults, tiny limits) and to switch
behaviour whose real-world details are UNCONFIRMED (see the reference §6), so a test can
pin whichever variant it relies on. All of them can be changed while the server runs via
``POST /__standin/config``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

API_VERSION = "60.0"
SUPPORTED_VERSIONS = tuple(f"{v}.0" for v in range(50, 63))


class SalesforceStandinConfig(BaseModel):
    """Run-time configuration; ``extra="forbid"`` so a typo in a knob name is a 400, not a no-op."""

    model_config = ConfigDict(extra="forbid")

    # Org settings / permissions
    audit_fields_permission: bool = Field(
        default=True, description="'Set Audit Fields upon Record Creation' + 'Update Records with Inactive Owners'"
    )
    contract_insert_activated: bool = Field(default=False, description="allow inserting a Contract as Activated")
    standard_picklists_restricted: bool = Field(
        default=True, description="treat standard picklists (except Task/Event Type) as restricted"
    )
    # Limits
    api_daily_limit: int = Field(default=100_000, ge=0)
    bulk_daily_batches: int = Field(default=15_000, ge=0)
    data_storage_mb: int = Field(default=10_240, ge=0)
    file_storage_mb: int = Field(default=10_240, ge=0)
    record_storage_kb: int = Field(default=2, ge=0, description="storage charged per record (most objects: 2 KB)")
    collections_max_records: int = Field(default=200, ge=1)
    query_page_size: int = Field(default=2000, ge=1, le=2000)
    bulk_batch_size: int = Field(default=10_000, ge=1, description="internal Bulk 2.0 batch size")
    token_ttl_s: int = Field(default=0, ge=0, description="0 = access tokens never expire")
    # Behaviour variants (UNCONFIRMED details)
    upsert_update_status: int = Field(
        default=200, description="HTTP status of a REST upsert that updated (200; <v46: 204)"
    )
    collections_parse_error_fails_request: bool = Field(
        default=True, description="a value that cannot be deserialized fails the whole collections call with 400"
    )
    bulk_processing_delay_ms: int = Field(default=0, ge=0, description="pause before a Bulk job starts processing")
    # Faults
    fault_5xx_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    fault_timeout_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    fault_timeout_s: float = Field(default=20.0, ge=0.0, description="how long a timed-out request stalls")
    fault_limit_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    fault_lock_row_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    fault_retry_after_s: int = Field(default=30, ge=0)
    latency_ms: int = Field(default=0, ge=0)
    fault_seed: int | None = None
