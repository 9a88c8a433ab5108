"""Every behaviour knob of the Odoo stand-in, in one pydantic model.

Knobs exist to inject trouble (faults, slow calls, tiny limits) and to switch behaviour whose
real-world details are UNCONFIRMED (reference §4, §6), so a test can pin the variant it relies
on. All of them can be changed while the server runs via ``POST /__standin/config``; the
version knob changes the whole surface (``/json/2`` exists on 19 only).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MB = 1024 * 1024
ONLINE_ATTACHMENT_MAX_BYTES = 115 * MB


class OdooStandinConfig(BaseModel):
    """Run-time configuration; ``extra="forbid"`` so a typo in a knob name is a 400, not a no-op."""

    model_config = ConfigDict(extra="forbid")

    # Server / hosting
    version: Literal[17, 18, 19] = Field(default=17, description="major version served (17.0, 18.0, 19.0)")
    online: bool = Field(default=False, description="Odoo Online (SaaS) instead of self-hosted")
    online_plan: Literal["custom", "standard", "one_app_free"] = Field(
        default="custom", description="Odoo Online pricing plan; the external API needs 'custom'")
    online_refusal_message: str = Field(
        default="Access Denied",
        description="what an Online database on a plan without API access answers (UNCONFIRMED: raised as "
        "AccessDenied, fault 3 / JSON-2 403)")
    enterprise: bool = Field(
        default=False, description="Enterprise edition: versions read '17.0+e' / [17, 0, 0, 'final', 0, 'e'] (as a "
        "self-hosted 16.0+e answers in odoo/documentation#6919); Odoo Online is always Enterprise")
    saas_minor: int | None = Field(
        default=None, ge=1, le=9, description="serve a SaaS release as Odoo Online does: 'saas~17.4', version_info "
        "['saas~17', 4, 0, 'final', 0, 'e'] (the exact shape is UNCONFIRMED)")
    inventory_installed: bool = Field(default=False, description="the Inventory app (stock.*) is installed")
    crm_use_leads: bool = Field(default=False, description="'Leads' setting: new crm.lead default to type 'lead'")
    # Limits
    limit_time_real_s: float = Field(default=120.0, gt=0, description="wall time after which a worker is killed")
    killed_response: Literal["drop", "502"] = Field(
        default="drop", description="what the client sees when a worker is killed: a dropped connection "
        "(no proxy) or a proxy's 502 (UNCONFIRMED for Odoo Online)")
    attachment_max_bytes: int = Field(
        default=0, ge=0, description="per-file ir.attachment limit when self-hosted; 0 = none (Odoo has no limit)")
    online_attachment_max_bytes: int = Field(default=ONLINE_ATTACHMENT_MAX_BYTES, ge=0)
    jsonrpc_error_code: int | None = Field(
        default=None, description="JSON-RPC error.code for server errors; None = 200 on 17/18, 0 on 19 "
        "(the version where it changed is UNCONFIRMED)")
    # Faults
    fault_5xx_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="share of calls answered 503")
    fault_drop_rate: float = Field(default=0.0, ge=0.0, le=1.0,
                                   description="share of calls whose connection is dropped before any work")
    fault_slow_rate: float = Field(default=0.0, ge=0.0, le=1.0,
                                   description="share of calls that stall fault_slow_s inside their transaction")
    fault_slow_s: float = Field(default=0.0, ge=0.0)
    latency_ms: int = Field(default=0, ge=0)
    fault_seed: int | None = None

    def attachment_limit(self) -> int:
        """The per-file limit in force (0 = unlimited)."""
        return self.online_attachment_max_bytes if self.online else self.attachment_max_bytes

    def api_refused(self) -> bool:
        """Odoo Online serves the external API on the Custom plan only."""
        return self.online and self.online_plan != "custom"
