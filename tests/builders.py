"""Builders for payloads used across test layers (GIVEN steps stay one line)."""

from __future__ import annotations

from typing import Any

from shared.mapping.spec import MigrationSpec
from shared.models import (
    DestCatalog,
    DestField,
    DestObject,
    DestUser,
    RunOptions,
    SourceCatalog,
    SourceField,
    SourceObject,
)
from shared.pairs import sercom_salesforce as template


def source_catalog(custom: bool = True) -> SourceCatalog:
    customs = [SourceField(name="contract_tier", type="picklist", label="Contract Tier", custom=True,
                           picklist_values=["Platinum", "Gold", "Silver", "Bronze"]),
               SourceField(name="customer_since", type="date", label="Customer Since", custom=True)] if custom else []
    return SourceCatalog(tenant="acme", objects=[
        SourceObject(name="customers", label="Service Account", fields=[SourceField(name="name", type="string"),
                                                                        *customs], count=3),
        SourceObject(name="work_orders", label="Work Order", count=2, fields=[
            SourceField(name="warranty_claim", type="boolean", custom=True, label="Warranty Claim")]),
    ])


def dest_catalog(audit: bool = True) -> DestCatalog:
    account = DestObject(name="Account", fields={
        "Name": DestField(name="Name", type="string", length=255, nillable=False),
        "BillingCity": DestField(name="BillingCity", type="string", length=40),
        "CreatedDate": DestField(name="CreatedDate", type="datetime", createable=audit, nillable=False,
                                 defaulted_on_create=True),
    })
    asset = DestObject(name="Asset", fields={
        "Name": DestField(name="Name", type="string", length=255, nillable=False),
        "CreatedDate": DestField(name="CreatedDate", type="datetime", createable=False, nillable=False,
                                 defaulted_on_create=True),
    })
    return DestCatalog(instance="https://org.example", objects={"Account": account, "Asset": asset},
                       users=[DestUser(id="005A", email="a@x.io", active=True)], integration_user_id="005INT",
                       audit_fields_settable=audit)


def spec(audit: bool = True, **options: Any) -> MigrationSpec:
    return template.build_spec(source_catalog(), dest_catalog(audit), RunOptions(**options),
                               deal_stages={"stg_1": "Prospecting", "stg_9": "Closed Won"},
                               owners={"tec_1": "005A"}, fallback_owner_id="005INT")
