"""``EntityDefinitions(…)/ManyToOneRelationships`` and ``/OneToManyRelationships``: the relationships behind lookups.

Clients read them to learn each lookup's navigation property and target instead of guessing by rule
(the Dataverse connector does, for custom lookups whose navigation property keeps the SchemaName's case).
Every lookup column yields one relationship per target table: ``ReferencingEntity``/``ReferencingAttribute``
(the lookup), ``ReferencedEntity``/``ReferencedAttribute`` (the target and its key) and
``ReferencingEntityNavigationPropertyName`` (the name to bind through, as the record engine accepts it).
Custom lookups carry the SchemaName and MetadataId they were created with; standard ones a name of the
stand-in's making (``<target>_<table>_<column>``; Dataverse's own names, like ``account_primary_contact``,
are not reproduced). ``ManyToManyRelationships`` is empty (the stand-in has no N:N relationships).
"""

from __future__ import annotations

from typing import Any

from sandbox.dynamics.org import Org
from sandbox.dynamics.schema import LOOKUP_TYPES, Table, metadata_id, nav_name_of


def _custom(org: Org) -> dict[tuple[str, str], dict[str, Any]]:
    """(referencing table, lookup column) -> the stored custom relationship."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for tbl, logical, stored, _created in org.store.custom_columns():
        if stored.get("Relationship"):
            out[(tbl, logical)] = dict(stored["Relationship"])
    return out


def relationships_of(org: Org, table: Table, kind: str) -> list[dict[str, Any]]:
    """``kind``: ManyToOneRelationships (lookups on ``table``) or OneToManyRelationships (lookups to it)."""
    if kind == "ManyToManyRelationships":
        return []
    custom = _custom(org)
    sources = [table] if kind == "ManyToOneRelationships" else [
        t for t in org.schema.tables.values() if t.published]
    out: list[dict[str, Any]] = []
    for source in sources:
        for col in source.columns.values():
            if col.type not in LOOKUP_TYPES or not col.published:
                continue
            for target in col.targets:
                if kind == "OneToManyRelationships" and target != table.logical:
                    continue
                referenced = org.schema.get(target)
                stored = custom.get((source.logical, col.logical), {})
                name = str(stored.get("SchemaName") or f"{target}_{source.logical}_{col.logical}")
                out.append({
                    "@odata.type": "#Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
                    "MetadataId": metadata_id("relationship", name),
                    "SchemaName": name,
                    "RelationshipType": "OneToManyRelationship",
                    "IsCustomRelationship": bool(stored),
                    "IsManaged": not stored,
                    "IsValidForAdvancedFind": True,
                    "SecurityTypes": "None",
                    "ReferencedEntity": target,
                    "ReferencedAttribute": referenced.primary_id if referenced else f"{target}id",
                    "ReferencingEntity": source.logical,
                    "ReferencingAttribute": col.logical,
                    "ReferencingEntityNavigationPropertyName": nav_name_of(source.logical, col, target),
                    "ReferencedEntityNavigationPropertyName": name,
                    "CascadeConfiguration": stored.get("CascadeConfiguration"),
                })
    return out
