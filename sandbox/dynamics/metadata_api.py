"""``EntityDefinitions``: read table/column/key metadata and create custom tables, columns and keys.

Supported reads: ``EntityDefinitions`` (``$select``, ``$filter``, ``$expand=Attributes|Keys``),
``EntityDefinitions(LogicalName='x')`` or ``(<MetadataId>)``, ``…/Attributes`` with optional
``(LogicalName='y')`` and a type cast such as ``Microsoft.Dynamics.CRM.PicklistAttributeMetadata``
(``$expand=OptionSet``), ``…/Keys``. Writes: ``POST EntityDefinitions``, ``…/Attributes``,
``…/Keys`` → 204 + ``OData-EntityId``. ``RelationshipDefinitions``: ``POST`` a OneToManyRelationshipMetadata
(creates its lookup column) → 204 + ``OData-EntityId``; ``GET RelationshipDefinitions(<id>|SchemaName='x')`` for
the relationships created here.
"""

from __future__ import annotations

from typing import Any

from sandbox.dynamics.config import DATA_PREFIX
from sandbox.dynamics.errors import DataverseError, bad_request, segment_not_found
from sandbox.dynamics.http import ApiRequest, ApiResponse
from sandbox.dynamics.options import ALIASES, aliases, check_options, unsupported
from sandbox.dynamics.org import Org
from sandbox.dynamics.query import Getter, Resolver, compile_filter, query_error
from sandbox.dynamics.relationships import relationships_of
from sandbox.dynamics.schema import Column, KeyDef, Table, metadata_id
from sandbox.dynamics.values import is_guid, parse_key_segment, split_top_level

CLASS_OF = {
    "String": "String", "Memo": "Memo", "Integer": "Integer", "BigInt": "BigInt", "Decimal": "Decimal",
    "Double": "Double", "Money": "Money", "DateTime": "DateTime", "Boolean": "Boolean", "Picklist": "Picklist",
    "State": "State", "Status": "Status", "Lookup": "Lookup", "Customer": "Lookup", "Owner": "Lookup",
    "Uniqueidentifier": "UniqueIdentifier", "EntityName": "EntityName",
}
BASE_ATTRIBUTE_PROPS = {
    "MetadataId", "LogicalName", "SchemaName", "AttributeType", "AttributeTypeName", "DisplayName", "Description",
    "RequiredLevel", "IsValidForCreate", "IsValidForUpdate", "IsValidForRead", "IsCustomAttribute", "IsPrimaryId",
    "IsPrimaryName", "EntityLogicalName", "IsManaged", "IsLogical", "AttributeOf", "ColumnNumber", "SourceType",
    "IsValidODataAttribute", "IsRequiredForForm", "IsSearchable",
}
SUBTYPE_PROPS = {"MaxLength", "Format", "FormatName", "Targets", "Precision", "MinValue", "MaxValue",
                 "DateTimeBehavior", "DefaultFormValue", "OptionSet", "GlobalOptionSet"}
#: EntityMetadata properties that are managed properties (``{"Value", "CanBeChanged", "ManagedPropertyLogicalName"}``);
#: ``$filter`` reads them as ``Name/Value``.
MANAGED_ENTITY_PROPS = {
    "IsCustomizable": "iscustomizable", "IsRenameable": "isrenameable", "IsMappable": "ismappable",
    "IsAuditEnabled": "canmodifyauditsettings", "IsValidForQueue": "canmodifyqueuesettings",
    "IsConnectionsEnabled": "canmodifyconnectionsettings", "IsDuplicateDetectionEnabled":
        "canmodifyduplicatedetectionsettings", "CanCreateAttributes": "cancreateattributes",
    "CanCreateForms": "cancreateforms", "CanCreateViews": "cancreateviews", "CanModifyAdditionalSettings":
        "canmodifyadditionalsettings", "IsMailMergeEnabled": "canmodifymailmergesettings",
}
ENTITY_PROPS = {
    "MetadataId", "LogicalName", "SchemaName", "EntitySetName", "LogicalCollectionName", "CollectionSchemaName",
    "PrimaryIdAttribute", "PrimaryNameAttribute", "IsCustomEntity", "IsActivity", "ObjectTypeCode", "OwnershipType",
    "DisplayName", "DisplayCollectionName", "Description", "HasNotes", "HasActivities", "IsManaged",
    "IsValidForAdvancedFind", "IsIntersect", "TableType", "IsPrivate", "IsActivityParty", "IsBPFEntity",
    "IsChildEntity", "IsLogicalEntity", "IsStateModelAware", "IsAvailableOffline", "IsQuickCreateEnabled",
    "ChangeTrackingEnabled", "IsDocumentManagementEnabled", "IsEnabledForCharts", "IsSolutionAware",
    "CanTriggerWorkflow", "IsEnabledForTrace",
    "IsImportable", "IsReadOnlyInMobileClient", "IntroducedVersion", "HasChanged", *MANAGED_ENTITY_PROPS,
    "Attributes", "Keys",
}


def entity_resolver(sample: dict[str, Any]) -> Resolver:
    """``$filter`` properties of EntityMetadata: simple ones, ``Managed/Value`` for managed properties, enums
    (``OwnershipType``) compared by member name; collections and labels are refused (as documented)."""

    def resolve(name: str) -> tuple[Getter, str]:
        prop, _, sub = name.partition("/")
        if prop not in ENTITY_PROPS or prop in ("Attributes", "Keys", "DisplayName", "DisplayCollectionName",
                                                "Description") or (sub and (prop not in MANAGED_ENTITY_PROPS
                                                                            or sub != "Value")):
            raise query_error(f"Could not find a property named '{name}' on type "
                              "'Microsoft.Dynamics.CRM.EntityMetadata'.")
        if prop in MANAGED_ENTITY_PROPS and not sub:
            raise query_error(f"The managed property '{prop}' can only be filtered on through '{prop}/Value'.")
        value = sample.get(prop)
        value = value.get("Value") if isinstance(value, dict) else value
        kind = "bool" if isinstance(value, bool) else "num" if isinstance(value, int) else "str"
        if prop == "MetadataId":
            kind = "guid"
        if sub:
            return (lambda d: (d.get(prop) or {}).get("Value")), kind
        return (lambda d: d.get(prop)), kind

    return resolve


def metadata_body(req: ApiRequest, kind: str) -> dict[str, Any]:
    """The JSON object a metadata write carries (no query options are taken on writes)."""
    check_options(req, ())
    body = req.json()
    if not isinstance(body, dict):
        article = "an" if kind[0] in "AEIOU" else "a"
        raise bad_request(f"The request body must be {article} {kind} object.")
    return body


def label(text: str) -> dict[str, Any]:
    entry = {"Label": text, "LanguageCode": 1033, "IsManaged": False, "MetadataId": metadata_id("label", text)}
    return {"LocalizedLabels": [entry], "UserLocalizedLabel": entry}


def _options(table: Table, col: Column) -> dict[str, Any]:
    kind = {"Picklist": "Picklist", "State": "State", "Status": "Status", "Boolean": "Boolean"}[col.type]
    out: dict[str, Any] = {
        "MetadataId": metadata_id(table.logical, col.logical, "optionset"),
        "Name": f"{table.logical}_{col.logical}",
        "IsGlobal": False,
        "IsCustomOptionSet": col.is_custom,
        "OptionSetType": kind,
    }

    def render(opt: Any) -> dict[str, Any]:
        item: dict[str, Any] = {"Value": opt.value, "Label": label(opt.label), "Color": None, "IsManaged": False}
        if col.type == "Status":
            item["State"] = opt.state
        if col.type == "State":
            item["DefaultStatus"] = opt.default_status
            item["InvariantName"] = opt.label.replace(" ", "")
        return item

    if col.type == "Boolean":
        out["FalseOption"] = render(col.options[0])
        out["TrueOption"] = render(col.options[1])
    else:
        out["Options"] = [render(o) for o in col.options]
    return out


def attribute_body(table: Table, col: Column, select: list[str] | None, expand: dict[str, dict[str, str]]) -> dict[
        str, Any]:
    cls = CLASS_OF.get(col.type, "")
    out: dict[str, Any] = {
        "@odata.type": f"#Microsoft.Dynamics.CRM.{cls}AttributeMetadata",
        "MetadataId": metadata_id(table.logical, col.logical),
        "LogicalName": col.logical,
        "SchemaName": col.schema_name,
        "EntityLogicalName": table.logical,
        "AttributeType": col.type,
        "AttributeTypeName": {"Value": f"{col.type}Type"},
        "DisplayName": label(col.display_name),
        "Description": label(""),
        "RequiredLevel": {"Value": col.required, "CanBeChanged": not col.is_primary_id,
                          "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings"},
        "IsValidForCreate": col.create,
        "IsValidForUpdate": col.update,
        "IsValidForRead": True,
        "IsCustomAttribute": col.is_custom,
        "IsPrimaryId": col.is_primary_id,
        "IsPrimaryName": col.is_primary_name,
        "IsManaged": not col.is_custom,
        "IsLogical": False,
        "AttributeOf": None,
        "IsValidODataAttribute": True,
    }
    if col.type in ("String", "Memo"):
        out["MaxLength"] = col.max_length
        out["Format"] = col.fmt
        if col.type == "String":
            out["FormatName"] = {"Value": col.fmt or "Text"}
    if col.type in ("Lookup", "Customer", "Owner"):
        out["Targets"] = list(col.targets)
        out["Format"] = "None"
    if col.type == "DateTime":
        out["Format"] = col.fmt
        out["DateTimeBehavior"] = {"Value": "DateOnly" if col.fmt == "DateOnly" else "UserLocal"}
    if col.type in ("Integer", "BigInt", "Decimal", "Double", "Money"):
        out["MinValue"] = col.min_value
        out["MaxValue"] = col.max_value
        if col.type in ("Decimal", "Double", "Money"):
            out["Precision"] = col.precision
    if col.type == "Picklist":
        out["DefaultFormValue"] = -1
    if "OptionSet" in expand and col.type in ("Picklist", "State", "Status", "Boolean"):
        out["OptionSet"] = _select(_options(table, col), _split(expand["OptionSet"].get("$select")))
        out["GlobalOptionSet"] = None
    return _select(out, select)


def key_body(table: Table, key: KeyDef, delay: float) -> dict[str, Any]:
    return {
        "MetadataId": metadata_id(table.logical, "key", key.logical),
        "LogicalName": key.logical,
        "SchemaName": key.schema_name,
        "EntityLogicalName": table.logical,
        "KeyAttributes": list(key.attributes),
        "DisplayName": label(key.display_name),
        "EntityKeyIndexStatus": key.status(delay),
        "IsManaged": False,
        "IsCustomizable": {"Value": True, "CanBeChanged": True},
        "AsyncJob": None,
    }


def _split(spec: str | None) -> list[str] | None:
    return [s.strip() for s in spec.split(",") if s.strip()] if spec else None


def _select(body: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    if select is None:
        return body
    keep = {"@odata.type", "MetadataId", *select, "OptionSet", "GlobalOptionSet", "Attributes", "Keys"}
    return {k: v for k, v in body.items() if k in keep}


def parse_expand(spec: str | None) -> dict[str, dict[str, str]]:
    """``Attributes($select=a,b;$filter=x),Keys`` -> ``{"Attributes": {"$select": …, "$filter": …}, "Keys": {}}``."""
    out: dict[str, dict[str, str]] = {}
    for raw in split_top_level(spec or ""):
        part = raw.strip()
        if not part:
            continue
        name, _, rest = part.partition("(")
        options: dict[str, str] = {}
        if rest:
            for opt in split_top_level(rest.rstrip(")"), ";"):
                k, _, v = opt.partition("=")
                options[k.strip()] = v.strip()
        out[name.strip()] = options
    return out


class MetadataApi:
    def __init__(self, org: Org) -> None:
        self.org = org

    def handle(self, req: ApiRequest, segments: list[tuple[str, str | None]]) -> ApiResponse:
        _, key = segments[0]
        rest = segments[1:]
        if key is None:
            if rest:
                raise segment_not_found(rest[0][0])
            if req.method == "POST":
                return self._create_table(req)
            self._get_only(req)
            return self._list_tables(req)
        table = self._table(key)
        if not rest:
            self._get_only(req)
            return self._entity(req, table)
        name, sub_key = rest[0]
        if name == "Attributes":
            if req.method == "POST" and sub_key is None and len(rest) == 1:
                return self._create_column(req, table)
            self._get_only(req)
            return self._attributes(req, table, sub_key, rest[1:])
        if name == "Keys":
            if req.method == "POST" and sub_key is None and len(rest) == 1:
                return self._create_key(req, table)
            self._get_only(req)
            return self._keys(req, table, sub_key)
        if name in ("ManyToOneRelationships", "OneToManyRelationships", "ManyToManyRelationships") \
                and sub_key is None and len(rest) == 1:
            self._get_only(req)
            return self._relationships(req, table, name)
        raise segment_not_found(name)

    def _relationships(self, req: ApiRequest, table: Table, kind: str) -> ApiResponse:
        params = check_options(req, ("$select", "$filter", ALIASES))
        rows = relationships_of(self.org, table, kind)
        if params.get("$filter"):
            def resolve(name: str) -> tuple[Getter, str]:
                if not rows or name not in rows[0] or isinstance(rows[0][name], dict):
                    raise query_error(f"Could not find a property named '{name}' on type "
                                      "'Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata'.")
                return (lambda d: d.get(name)), "bool" if isinstance(rows[0][name], bool) else "str"

            pred = compile_filter(params["$filter"], resolve, aliases(params))
            rows = [r for r in rows if pred(r)]
        select = _split(params.get("$select"))
        return ApiResponse.of_json({
            "@odata.context": f"{self._base(req)}$metadata#EntityDefinitions('{table.logical}')/{kind}",
            "value": [_select(r, select) for r in rows]})

    @staticmethod
    def _get_only(req: ApiRequest) -> None:
        if req.method != "GET":
            raise DataverseError(405, "0x80060888", f"The HTTP method '{req.method}' is not allowed on this resource.")

    def _table(self, key: str) -> Table:
        schema = self.org.schema
        if is_guid(key.strip()):
            found = next((t for t in schema.tables.values() if t.metadata_id == key.strip().lower()), None)
            if found is None:
                raise DataverseError(404, "0x80040217", f"Could not find entity with MetadataId = {key.strip()}.")
            return found
        try:
            parsed = parse_key_segment(key)
        except ValueError as exc:
            raise bad_request(f"Bad Request - Error in query syntax: 'EntityDefinitions({key})'.") from exc
        logical = parsed.get("LogicalName") if isinstance(parsed, dict) else None
        table = schema.get(str(logical)) if logical else None
        if table is None or not table.published:
            raise DataverseError(404, "0x80040217",
                                 f"Could not find entity with LogicalName = '{logical}' in the MetadataCache.")
        return table

    def _base(self, req: ApiRequest) -> str:
        return f"{req.base_url}{DATA_PREFIX}"

    def entity_body(self, table: Table) -> dict[str, Any]:
        return {
            "MetadataId": table.metadata_id,
            "LogicalName": table.logical,
            "SchemaName": table.schema_name,
            "EntitySetName": table.entity_set,
            "LogicalCollectionName": table.entity_set,
            "CollectionSchemaName": table.schema_name + "s",
            "PrimaryIdAttribute": table.primary_id,
            "PrimaryNameAttribute": table.primary_name,
            "IsCustomEntity": table.is_custom,
            "IsActivity": table.is_activity,
            "IsIntersect": False,
            "ObjectTypeCode": table.object_type_code,
            "OwnershipType": table.ownership if table.ownership != "None" else "None",
            "DisplayName": label(table.display_name),
            "DisplayCollectionName": label(table.display_collection),
            "HasNotes": table.has_notes,
            "HasActivities": table.has_activities,
            "Description": label(""),
            "IsManaged": not table.is_custom,
            "IsValidForAdvancedFind": True,
            "TableType": "Standard",
            "IsPrivate": False,
            "IsActivityParty": table.logical in ("account", "contact", "systemuser", "queue"),
            "IsBPFEntity": False,
            "IsChildEntity": table.logical in ("customeraddress",),
            "IsLogicalEntity": False,
            "IsStateModelAware": "statecode" in table.columns,
            "IsAvailableOffline": True,
            "IsQuickCreateEnabled": table.logical in ("account", "contact", "incident", "opportunity"),
            "ChangeTrackingEnabled": not table.is_custom,
            "IsDocumentManagementEnabled": False,
            "IsEnabledForCharts": True,
            "IsSolutionAware": True,
            "CanTriggerWorkflow": True,
            "IsEnabledForTrace": False,
            "IsImportable": True,
            "IsReadOnlyInMobileClient": False,
            "IntroducedVersion": "1.0" if table.is_custom else "5.0.0.0",
            "HasChanged": None,
            **{name: {"Value": name != "IsDuplicateDetectionEnabled", "CanBeChanged": True,
                      "ManagedPropertyLogicalName": logical} for name, logical in MANAGED_ENTITY_PROPS.items()},
        }

    def _render_entity(self, req: ApiRequest, table: Table, select: list[str] | None,
                       expand: dict[str, dict[str, str]]) -> dict[str, Any]:
        if select is not None:
            unknown = [s for s in select if s not in ENTITY_PROPS]
            if unknown:
                raise bad_request(f"Could not find a property named '{unknown[0]}' on type "
                                  "'Microsoft.Dynamics.CRM.EntityMetadata'.")
        body = _select(self.entity_body(table), select)
        for name in expand:
            if name not in ("Attributes", "Keys"):
                raise bad_request(f"Expanding '{name}' is not supported by the stand-in.")
        if "Attributes" in expand:
            body["Attributes"] = self._attribute_list(table, None, expand["Attributes"])
        if "Keys" in expand:
            for name in expand["Keys"]:
                if name != "$select":
                    raise unsupported(name)
            keys_select = _split(expand["Keys"].get("$select"))
            body["Keys"] = [_select(key_body(table, k, self.org.config.key_activation_delay_s), keys_select)
                            for k in table.keys]
        return body

    def _entity(self, req: ApiRequest, table: Table) -> ApiResponse:
        params = check_options(req, ("$select", "$expand", "LabelLanguages"))
        body = {"@odata.context": f"{self._base(req)}$metadata#EntityDefinitions/$entity",
                **self._render_entity(req, table, _split(params.get("$select")), parse_expand(params.get("$expand")))}
        return ApiResponse.of_json(body)

    def _list_tables(self, req: ApiRequest) -> ApiResponse:
        params = check_options(req, ("$select", "$filter", "$expand", "LabelLanguages", ALIASES))
        tables = [t for t in self.org.schema.tables.values() if t.published]
        if params.get("$filter"):
            bodies = {t.logical: self.entity_body(t) for t in tables}
            pred = compile_filter(params["$filter"], entity_resolver(next(iter(bodies.values()))), aliases(params))
            tables = [t for t in tables if pred(bodies[t.logical])]
        select, expand = _split(params.get("$select")), parse_expand(params.get("$expand"))
        return ApiResponse.of_json({
            "@odata.context": f"{self._base(req)}$metadata#EntityDefinitions",
            "value": [self._render_entity(req, t, select, expand) for t in tables],
        })

    def _attribute_list(self, table: Table, cast: str | None, options: dict[str, str]) -> list[dict[str, Any]]:
        for name in options:
            if name not in ("$select", "$filter", "$expand", "LabelLanguages", "tag") and not name.startswith("@"):
                raise unsupported(name)
        select = _split(options.get("$select"))
        self._check_select(select, cast)
        cols = [c for c in table.columns.values() if c.published]
        if cast is not None:
            cols = [c for c in cols if CLASS_OF.get(c.type) == cast]
        if options.get("$filter"):
            def resolve(name: str) -> tuple[Getter, str]:
                prop, _, sub = name.partition("/")
                if prop not in BASE_ATTRIBUTE_PROPS or prop in ("DisplayName", "Description") or (
                        sub and (prop != "RequiredLevel" or sub != "Value")):
                    raise query_error(f"Could not find a property named '{name}' on type "
                                      "'Microsoft.Dynamics.CRM.AttributeMetadata'.")
                if sub:  # a managed property: the documented RequiredLevel/Value path
                    return (lambda d: (d.get(prop) or {}).get("Value")), "str"
                kind = "bool" if prop.startswith("Is") else "guid" if prop == "MetadataId" else "str"
                return (lambda d: d.get(prop)), kind

            pred = compile_filter(options["$filter"], resolve, aliases(options))
            cols = [c for c in cols if pred(attribute_body(table, c, None, {}))]
        expand = parse_expand(options.get("$expand"))
        return [attribute_body(table, c, select, expand) for c in cols]

    def _check_select(self, select: list[str] | None, cast: str | None) -> None:
        for name in select or []:
            lenient = cast is not None or not self.org.config.strict_attribute_select
            if name in BASE_ATTRIBUTE_PROPS or (name in SUBTYPE_PROPS and lenient):
                continue
            on = f"{cast}AttributeMetadata" if cast else "AttributeMetadata"
            raise bad_request(f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{on}'.")

    def _attributes(self, req: ApiRequest, table: Table, sub_key: str | None,
                    more: list[tuple[str, str | None]]) -> ApiResponse:
        cast = None
        if more:
            cast_name = more[0][0].removeprefix("Microsoft.Dynamics.CRM.")
            if len(more) > 1 or not cast_name.endswith("AttributeMetadata"):
                raise segment_not_found(more[-1][0])
            cast = cast_name.removesuffix("AttributeMetadata")
            if cast not in set(CLASS_OF.values()):
                raise segment_not_found(more[0][0])
        params = check_options(req, ("$select", "$filter", "$expand", "LabelLanguages", ALIASES) if sub_key is None
                               else ("$select", "$expand", "LabelLanguages"))
        base = f"{self._base(req)}$metadata#EntityDefinitions('{table.logical}')/Attributes"
        if sub_key is None:
            return ApiResponse.of_json({"@odata.context": base, "value": self._attribute_list(table, cast, params)})
        try:
            parsed = parse_key_segment(sub_key)
        except ValueError as exc:
            raise bad_request(f"Bad Request - Error in query syntax: 'Attributes({sub_key})'.") from exc
        col = None
        if isinstance(parsed, dict):
            col = table.column(str(parsed.get("LogicalName")))
        else:
            col = next((c for c in table.columns.values() if metadata_id(table.logical, c.logical) == parsed), None)
        if col is None or not col.published or (cast is not None and CLASS_OF.get(col.type) != cast):
            raise DataverseError(404, "0x80040217", f"Could not find attribute {sub_key} on entity {table.logical}.")
        select = _split(params.get("$select"))
        self._check_select(select, cast or CLASS_OF.get(col.type))
        body = attribute_body(table, col, select, parse_expand(params.get("$expand")))
        return ApiResponse.of_json({"@odata.context": f"{base}/$entity", **body})

    def _keys(self, req: ApiRequest, table: Table, sub_key: str | None) -> ApiResponse:
        select = _split(check_options(req, ("$select",)).get("$select"))
        delay = self.org.config.key_activation_delay_s
        keys = [_select(key_body(table, k, delay), select) for k in table.keys]
        base = f"{self._base(req)}$metadata#EntityDefinitions('{table.logical}')/Keys"
        if sub_key is None:
            return ApiResponse.of_json({"@odata.context": base, "value": keys})
        parsed = parse_key_segment(sub_key)
        wanted = str(parsed.get("LogicalName")) if isinstance(parsed, dict) else parsed
        found = next((k for k in keys if wanted in (k["LogicalName"], k["MetadataId"])), None)
        if found is None:
            raise DataverseError(404, "0x80040217", f"Could not find key {sub_key} on entity {table.logical}.")
        return ApiResponse.of_json({"@odata.context": f"{base}/$entity", **found})

    # -- writes -----------------------------------------------------------------------------------------------
    def _create_table(self, req: ApiRequest) -> ApiResponse:
        body = metadata_body(req, "EntityMetadata")
        table = self.org.add_custom_table(body)
        return ApiResponse.empty(204, {"OData-EntityId": f"{self._base(req)}EntityDefinitions({table.metadata_id})"})

    def _create_column(self, req: ApiRequest, table: Table) -> ApiResponse:
        body = metadata_body(req, "AttributeMetadata")
        logical = self.org.add_custom_column(table, body)
        return ApiResponse.empty(204, {
            "OData-EntityId": f"{self._base(req)}EntityDefinitions(LogicalName='{table.logical}')/Attributes("
                              f"{metadata_id(table.logical, logical)})"})

    def _create_key(self, req: ApiRequest, table: Table) -> ApiResponse:
        body = metadata_body(req, "EntityKeyMetadata")
        key = self.org.add_custom_key(table, body)
        return ApiResponse.empty(204, {
            "OData-EntityId": f"{self._base(req)}EntityDefinitions(LogicalName='{table.logical}')/Keys("
                              f"{metadata_id(table.logical, 'key', key.logical)})"})


class RelationshipApi:
    """``RelationshipDefinitions``: create one-to-many relationships (custom lookups) and read them back."""

    def __init__(self, org: Org) -> None:
        self.org = org

    def handle(self, req: ApiRequest, segments: list[tuple[str, str | None]]) -> ApiResponse:
        _, key = segments[0]
        if len(segments) > 1:
            raise segment_not_found(segments[1][0])
        base = f"{req.base_url}{DATA_PREFIX}"
        if key is None:
            if req.method == "POST":
                body = metadata_body(req, "RelationshipMetadataBase")
                rel = self.org.add_relationship(body)
                return ApiResponse.empty(204, {"OData-EntityId": f"{base}RelationshipDefinitions({rel['MetadataId']})"})
            MetadataApi._get_only(req)
            raise bad_request("Listing RelationshipDefinitions is not emulated by the stand-in; read one relationship "
                              "by MetadataId or SchemaName.")
        MetadataApi._get_only(req)
        wanted = key.strip()
        if not is_guid(wanted):
            try:
                parsed = parse_key_segment(wanted)
            except ValueError as exc:
                raise bad_request(f"Bad Request - Error in query syntax: 'RelationshipDefinitions({key})'.") from exc
            wanted = str(parsed.get("SchemaName")) if isinstance(parsed, dict) else str(parsed)
        found = self.org.relationship(wanted)
        if found is None or not found.pop("_published", True):
            raise DataverseError(404, "0x80040217", f"Could not find relationship {key}.")
        rel = found
        select = _split(check_options(req, ("$select",)).get("$select"))
        body = _select({
            "@odata.type": "#Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
            **rel,
            "RelationshipType": "OneToManyRelationship",
            "IsCustomRelationship": True,
            "IsManaged": False,
            "IsValidForAdvancedFind": True,
            "SecurityTypes": "None",
        }, select)
        return ApiResponse.of_json({
            "@odata.context": f"{base}$metadata#RelationshipDefinitions/"
                              "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata/$entity", **body})
