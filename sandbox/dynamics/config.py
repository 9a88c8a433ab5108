"""Every behaviour knob of the Dataverse stand-in, in one pydantic model.

Knobs exist for two reasons: to inject trouble (faults, tiny limits) and to switch
behaviour whose real-world details are UNCONFIRMED (reference §2, §6), so a test can pin
whichever variant it relies on. All of them can be changed while the server runs via
``POST /__standin/config``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

API_VERSION = "v9.2"
DATA_PREFIX = f"/api/data/{API_VERSION}/"


class DynamicsStandinConfig(BaseModel):
    """Run-time configuration; ``extra="forbid"`` so a typo in a knob name is a 400, not a no-op."""

    model_config = ConfigDict(extra="forbid")

    # Environment / licence
    sku: Literal["enterprise", "professional"] = Field(
        default="enterprise", description="'professional' caps custom tables at custom_table_limit"
    )
    field_service: bool = Field(default=False, description="Field Service installed: msdyn_customerasset exists")
    custom_table_limit: int = Field(default=15, ge=0, description="custom tables allowed on the professional SKU")
    publisher_prefix: str = Field(default="flit", min_length=2, max_length=8, pattern=r"^[a-z][a-z0-9]*$")
    option_value_prefix: int = Field(
        default=10_000, ge=10_000, le=99_999, description="custom option values start at prefix*10000 (UNCONFIRMED)"
    )
    metadata_publish_required: bool = Field(
        default=False, description="new custom tables/columns are unusable until PublishXml/PublishAllXml"
    )
    key_activation_delay_s: float = Field(
        default=0.0, ge=0.0, description="seconds an alternate key stays Pending before it is Active"
    )
    key_url_refused_chars: str = Field(
        default="/#<>*%&:\\?+",
        description="characters an alternate-key value may not hold when it addresses a record in a URL (Power Apps "
        "docs, 'Define alternate keys'); the refusal's status and wording are UNCONFIRMED; empty = accept any",
    )
    strict_attribute_select: bool = Field(
        default=False,
        description="reject $select of subtype properties (MaxLength, Targets…) on the base AttributeMetadata "
        "(UNCONFIRMED; real Dataverse is believed to need a type cast)",
    )
    # Privileges / behaviour variants (UNCONFIRMED details)
    override_created_on_privilege: bool = Field(
        default=True, description="the application user holds prvOverrideCreatedOnCreatedBy"
    )
    overriddencreatedon_swaps: bool = Field(
        default=True,
        description="createdon takes the supplied overriddencreatedon, which then holds the real creation time",
    )
    contact_requires_account: bool = Field(default=False, description="refuse a contact without parentcustomerid")
    asset_requires_account: bool = Field(
        default=True, description="refuse an msdyn_customerasset without msdyn_account"
    )
    products_created_draft: bool = Field(default=False, description="new products start in Draft (statecode 2)")
    closed_records_read_only: bool = Field(
        default=True, description="resolved/cancelled incidents and won/lost opportunities refuse updates"
    )
    annotation_max_bytes: int = Field(default=5 * 1024 * 1024, ge=0, description="note attachment size limit")
    embedded_address_records: bool = Field(
        default=True,
        description="every account gets customeraddress rows 1-2 and every contact 1-3, even empty ones; false = "
        "the 'disable empty address record creation' setting: a row only once its embedded address has data",
    )
    address_number_conflict: Literal["duplicate_key", "renumber"] = Field(
        default="duplicate_key",
        description="a customeraddress created with an addressnumber its parent already uses: 412 duplicate key, "
        "or the next free number (UNCONFIRMED)",
    )
    # Service protection limits (per user)
    requests_per_window: int = Field(default=6000, ge=1)
    window_s: float = Field(default=300.0, gt=0)
    execution_time_limit_s: float = Field(default=1200.0, gt=0, description="combined execution time per window")
    max_concurrency: int = Field(default=52, ge=1)
    batch_counts_inner_requests: bool = Field(
        default=False, description="a $batch counts as its inner request count (docs: a batch counts as one)"
    )
    batch_max_requests: int = Field(default=1000, ge=1)
    bulk_max_targets: int = Field(
        default=0, ge=0,
        description="Targets per CreateMultiple/UpdateMultiple/UpsertMultiple beyond which the request fails like an "
        "over-long one (SQL timeout); 0 = no count limit, as documented for standard tables (Microsoft suggests "
        "starting at 1,000)",
    )
    bulk_unsupported_tables: list[str] = Field(
        default_factory=list,
        description="tables whose bulk messages answer 'MessageProcessor.Empty' (which tables: UNCONFIRMED)",
    )
    max_page_size: int = Field(default=5000, ge=1, le=5000)
    token_ttl_s: int = Field(default=3599, ge=0, description="0 = tokens never expire")
    # Faults
    fault_5xx_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    fault_throttle_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    fault_timeout_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    fault_timeout_s: float = Field(default=20.0, ge=0.0, description="how long a timed-out request stalls")
    fault_retry_after_s: int = Field(default=5, ge=0, description="Retry-After sent with injected 429s")
    latency_ms: int = Field(default=0, ge=0)
    fault_seed: int | None = None
