"""Typed contracts between the API, the state machine steps and the connectors.

Step inputs and outputs carry references (S3 keys, counts, ids), never record data:
Step Functions payloads are capped at 256 KiB.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.mapping.infer import FieldSample

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,79}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SECRET_NAME = re.compile(r"^flitstack/[A-Za-z0-9/_+=.@-]{1,200}$")


def is_run_id(value: str) -> bool:
    """Whether ``value`` follows the run id rules (checked before using it in a key or a name)."""
    return bool(_RUN_ID.fullmatch(value))


class Strict(BaseModel):
    """Refuse unknown keys: a typo in a request is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Endpoint(Strict):
    """Where a system is and the *name* of the secret that holds its credentials."""

    kind: str
    secret_name: str

    @field_validator("secret_name")
    @classmethod
    def _secret_name(cls, value: str) -> str:
        if not _SECRET_NAME.fullmatch(value):
            raise ValueError("must be a Secrets Manager name under 'flitstack/' (letters, digits, /_+=.@-)")
        return value


class WorkOrderSplit(Strict):
    """Which Sercom work orders become Dynamics Opportunities; every other one becomes an Incident (case).

    A work order is an opportunity when its type is in ``opportunity_types`` (``"*"``: any type)
    and, with ``require_amount``, it carries a revenue amount. Seed 001's default: reactive tickets
    (repair, emergency, inspection) are cases; scheduled or project work with an amount is sales.
    """

    opportunity_types: list[str] = Field(default_factory=lambda: ["installation", "maintenance"],
                                         description="work-order types that go to Opportunity ('*' = any)")
    require_amount: bool = Field(default=True, description="only work orders with a revenue amount go to Opportunity")


class DynamicsOptions(Strict):
    """Choices of the Sercom -> Dynamics 365 Sales pair, made at the discovery report (seed 001)."""

    workorder_split: WorkOrderSplit = WorkOrderSplit()
    location_strategy: Literal["location_accounts", "address_merge"] = Field(
        default="location_accounts",
        description="locations as Accounts of type Location under their customer, or as addresses of the customer")
    asset_strategy: Literal["auto", "native", "custom_table"] = Field(
        default="auto", description="auto: Field Service's Customer Asset when installed, else the custom table")
    fallback_queue: str | None = Field(
        default=None, max_length=160,
        description="queue (by name) that open cases without a matched owner are routed to for manual assignment")
    dedupe_accounts: bool = Field(default=True, description="merge customers with the same name and domain")


class ServiceTrackerOptions(Strict):
    """Choices of the ServiceTracker pairs, made at the discovery report (seed 003).

    ServiceTracker projects have no direct destination equivalent: seed 003 recommends a sales record
    (Opportunity) for projects with billable revenue and a custom project object for the rest. The
    person starting the migration sets the rule.
    """

    projects_as: Literal["billable_as_opportunity", "all_opportunity", "all_project"] = Field(
        default="billable_as_opportunity",
        description="billable projects -> Opportunity and the rest -> Project__c (default), or all one way")


class ZohoOptions(Strict):
    """Choices of the Sercom -> Zoho CRM pair, made at the discovery report (seed 002).

    Prospects land as Leads (the spec's ``where``, editable at sign-off); seed 002 lets them be converted
    through Zoho's Convert Lead API (5 credits a lead, priced in the budget plan): none (default), the
    prospects whose company was migrated (converted under that Account), or every prospect (those without
    a company under the default 'Unassigned' account).
    """

    convert_leads: Literal["none", "with_company", "all"] = Field(
        default="none", description="which Leads are converted into Contacts once loaded (5 API credits each)")
    pipeline: str = Field(default="Standard", min_length=1, max_length=120,
                          description="the Zoho Deals pipeline deals land in (its stages take Sercom's, in order)")


class RunOptions(Strict):
    """What the person starting a migration may choose."""

    approval: Literal["auto", "manual"] = "auto"
    fallback_owner_email: str | None = None
    location_strategy: Literal["child_accounts", "shipping_address"] = "child_accounts"
    extract_page_size: int = Field(default=1000, ge=1, le=1000)
    batch_size: int = Field(default=10_000, ge=100, le=10_000)
    batch_bytes: int = Field(
        default=1024 * 1024, ge=64 * 1024, le=64 * 1024 * 1024,
        description="JSON bytes one extracted batch holds at most (a batch ends at batch_size records or at these "
        "bytes): the source batch a transform holds is bounded by the records' width too, not only their count "
        "(loads are still packed up to batch_size records). 1 MiB of JSON is about 3.5 MiB once parsed, and four "
        "transforms run at a time")
    extract_partition_records: int = Field(
        default=50_000, ge=1, le=1_000_000,
        description="records one Extract invocation reads (whole pages) before it checkpoints and hands the "
        "object on to the next invocation: every invocation stays far under Lambda's 15 minutes")
    objects: list[str] | None = None
    delta_window_s: int = Field(default=0, ge=0, le=7 * 86400,
                                description="delta-pickup window after the full load; 0 = none (24-48 h in production)")
    delta_poll_s: int = Field(default=900, ge=1, le=86400, description="time between delta passes")
    delta_overlap_s: int = Field(default=300, ge=0, le=86400,
                                 description="how far before the watermark each pass re-reads (late commits)")
    quota_pause_s: int = Field(default=3600, ge=1, le=86400,
                               description="pause before resuming a run stopped by an exhausted daily quota")
    preflight_poll_s: int = Field(default=900, ge=1, le=86400,
                                  description="while the source's pre-flight blocks the full run (unsynced mobile "
                                  "devices), how long to wait before checking again")
    sample_size: int = Field(default=300, ge=20, le=500,
                             description="records in the sample migration (approval 'manual'), parents included")
    approvers: list[str] = Field(default_factory=list, max_length=20,
                                 description="who gets the approval e-mail (approval 'manual')")
    approval_timeout_s: int = Field(default=3 * 86400, ge=1, le=30 * 86400,
                                    description="how long a sign-off may wait before the run ends unapproved")
    on_failed_reconciliation: Literal["hold", "rollback"] = Field(
        default="hold", description="when reconciliation fails: 'hold' keeps what was loaded for a person to "
        "look at; 'rollback' starts the rollback by itself, reverting the target to its pre-migration state")
    rollback_schema: bool = Field(
        default=False, description="rollback also removes the custom fields and objects this run created, once "
        "they hold no data (where the destination connector can remove schema)")
    dynamics: DynamicsOptions = DynamicsOptions()
    servicetracker: ServiceTrackerOptions = ServiceTrackerOptions()
    zoho: ZohoOptions = ZohoOptions()

    @field_validator("approvers")
    @classmethod
    def _approvers(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not _EMAIL.fullmatch(v)]
        if bad:
            raise ValueError(f"not e-mail addresses: {bad}")
        return [v.strip().lower() for v in value]


def sample_environment_problems(destination: Endpoint, sample: Endpoint | None, options: RunOptions
                                ) -> list[tuple[str, str]]:
    """(field, message) for each reason a run's sample environment cannot be used."""
    if sample is None:
        return []
    problems = []
    if sample.kind != destination.kind:
        problems.append(("sample_destination.kind",
                         f"must be the destination's kind ({destination.kind!r}): another environment of it"))
    if sample.secret_name == destination.secret_name:
        problems.append(("sample_destination.secret_name", "must name another environment than destination's"))
    if options.approval != "manual":
        problems.append(("options.approval", "must be 'manual' with a sample_destination: the sample is what a "
                                             "person approves before the target is written"))
    return problems


class RunRef(Strict):
    """The small, secret-free description of a run every step receives."""

    run_id: str
    pair: str
    source: Endpoint
    destination: Endpoint
    options: RunOptions = RunOptions()
    #: A separate environment of the destination (a Salesforce sandbox, a Dataverse copy) the sample is
    #: migrated into: nothing is written to ``destination`` (schema included) until the sample is approved.
    sample_destination: Endpoint | None = None

    @model_validator(mode="after")
    def _sample_environment(self) -> RunRef:
        problems = sample_environment_problems(self.destination, self.sample_destination, self.options)
        if problems:
            raise ValueError("; ".join(f"{where}: {what}" for where, what in problems))
        return self

    @property
    def sample_endpoint(self) -> Endpoint:
        """Where the sample goes: the sample environment, else the destination itself."""
        return self.sample_destination or self.destination

    @field_validator("run_id")
    @classmethod
    def _run_id(cls, value: str) -> str:
        if not _RUN_ID.fullmatch(value):
            raise ValueError("3-80 characters: letters, digits, '-' and '_', starting with a letter or digit")
        return value

    @property
    def prefix(self) -> str:
        """S3 prefix of every artefact of this run."""
        return f"runs/{self.run_id}"


class StepInput(Strict):
    """The envelope every Task payload starts with: the operation and the run. Each op's full
    payload is its own model in ``shared.steps`` (unknown keys refused); this is only the envelope."""

    op: str
    run: RunRef


# --- catalogs -----------------------------------------------------------------------------
class SourceField(BaseModel):
    name: str
    type: str
    label: str = ""
    required: bool = False
    picklist_values: list[str] = Field(default_factory=list)
    references: str | None = None
    custom: bool = False
    sample: FieldSample | None = None
    #: Why the field has this type (and these pick-list values): the schema's word, the data's, or both.
    evidence: str = ""


class SourceObject(BaseModel):
    name: str
    label: str
    fields: list[SourceField]
    count: int = 0
    #: A tenant-defined object (no pair knows it: the mapping proposer places it).
    custom: bool = False


class SourceCatalog(BaseModel):
    """What discovery found in the source: objects, fields (incl. custom), counts, rules."""

    tenant: str
    objects: list[SourceObject]
    automation_rules: list[dict[str, Any]] = Field(default_factory=list)

    def object(self, name: str) -> SourceObject:
        for obj in self.objects:
            if obj.name == name:
                return obj
        raise KeyError(name)


class DestField(BaseModel):
    name: str
    type: str
    label: str = ""
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted_on_create: bool = False
    external_id: bool = False
    picklist_values: list[str] = Field(default_factory=list)
    #: value -> label where they differ (Dataverse choices: the integer value -> its label).
    picklist_labels: dict[str, str] = Field(default_factory=dict)
    restricted_picklist: bool = False
    reference_to: list[str] = Field(default_factory=list)

    @property
    def required_on_create(self) -> bool:
        return self.createable and not self.nillable and not self.defaulted_on_create


class DestObject(BaseModel):
    name: str
    label: str = ""
    custom: bool = False
    fields: dict[str, DestField] = Field(default_factory=dict)


class DestUser(BaseModel):
    id: str
    email: str
    active: bool
    name: str = ""
    #: The user's own contact record where the platform authors messages by contact, not by user
    #: (Odoo: ``res.users.partner_id``, what ``mail.message.author_id`` points at).
    contact_id: str | None = None


class DealStage(BaseModel):
    """One stage of a destination deal pipeline: its value and whether it is open, won or lost."""

    name: str
    kind: Literal["open", "won", "lost"]


class DestCatalog(BaseModel):
    """What discovery found in the destination: describes of mapped objects and users."""

    instance: str
    objects: dict[str, DestObject]
    users: list[DestUser]
    integration_user_id: str
    audit_fields_settable: bool
    pipelines: dict[str, list[DealStage]] = Field(
        default_factory=dict, description="the destination's deal pipelines -> their stages in order, where the "
        "platform keeps several (Zoho's settings/pipeline); empty elsewhere")
