"""The ``settings/fields`` descriptor of a field, with every key Zoho's ``fields.json`` declares required.

Clients read ``api_name``, ``data_type``, ``length``, ``system_mandatory``, ``read_only``,
``pick_list_values``, ``lookup``, ``unique`` and ``external``; the remaining keys carry Zoho's
usual values for a layout field so the whole descriptor checks against the vendor's schema.
Absent sub-objects are ``null``, as Zoho answers them.
"""

from __future__ import annotations

from typing import Any

JSON_TYPES = {
    "text": "string", "textarea": "string", "email": "string", "phone": "string", "website": "string",
    "picklist": "string", "multiselectpicklist": "jsonarray", "integer": "integer", "bigint": "string",
    "double": "double", "currency": "double", "percent": "double", "boolean": "boolean", "date": "string",
    "datetime": "string", "lookup": "jsonobject", "ownerlookup": "jsonobject", "userlookup": "jsonobject",
    "multi_module_lookup": "jsonobject", "autonumber": "string", "participants": "jsonarray", "parent": "jsonobject",
}
FLAGS_FALSE = ("webhook", "virtual_field", "businesscard_supported", "separator", "pick_list_values_sorted_lexically",
               "_update_existing_records", "number_separator", "static_field", "display_field",
               "colour_code_enabled_by_system", "hipaa_compliance_enabled", "enable_colour_code")
FLAGS_TRUE = ("blueprint_supported", "filterable", "visible", "available_in_user_layout", "sortable", "searchable",
              "mass_update")
NULL_KEYS = ("associated_module", "email_parser", "rollup_summary", "refer_from_field", "multi_module_lookup",
             "sharing_properties", "currency", "sub_module", "subform", "formula", "convert_mapping",
             "multiselectlookup", "multiuserlookup", "autonumber", "auto_number", "crypt", "tooltip",
             "history_tracking", "association_details", "additional_column", "common.picklist", "hipaa_compliance",
             "textarea", "decimal_place", "created_time", "modified_time")


def describe_field(fd: Any, module: str, module_id: str) -> dict[str, Any]:
    """One ``fields[]`` entry for ``fd`` (a :class:`~sandbox.zoho.schema.FieldDef`) of ``module``."""
    out: dict[str, Any] = {k: False for k in FLAGS_FALSE} | {k: True for k in FLAGS_TRUE} | dict.fromkeys(NULL_KEYS)
    out.update({
        "id": fd.field_id, "api_name": fd.api_name, "field_label": fd.label, "display_label": fd.label,
        "column_name": fd.api_name.upper(), "data_type": fd.data_type, "json_type": JSON_TYPES.get(fd.data_type,
                                                                                                 "string"),
        "length": fd.length, "system_mandatory": fd.mandatory, "read_only": fd.read_only,
        "field_read_only": fd.read_only, "custom_field": fd.custom, "created_source": "crm" if fd.custom else
        "default", "type": "used", "display_type": 1, "ui_type": 1, "show_type": 7, "category": 2 if fd.custom else 0,
        "quick_sequence_number": "0", "customizable_properties": [] if not fd.custom else ["field_label", "length"],
        "operation_type": {"web_update": not fd.read_only, "api_create": not fd.read_only, "web_create":
                           not fd.read_only, "api_update": not fd.read_only},
        "view_type": {"view": True, "edit": not fd.read_only, "quick_create": fd.mandatory, "create": True},
        "layout_associations": [{"api_name": "Standard", "name": "Standard", "id": f"{module_id}1"}],
        "profiles": [{"name": "Administrator", "id": "0", "permission_type": "read_write"}],
        "file_upolad_optionlist": [], "allowed_modules": [],
        "unique": {"casesensitive": False} if fd.unique else None, "external": fd.external,
        "pick_list_values": [
            {"display_value": v, "actual_value": v, "id": f"{fd.field_id}{i:03d}", "type": "used",
             "sequence_number": i + 1, "colour_code": None}
            for i, v in enumerate(fd.picklist)
        ],
        "restricted_picklist": bool(fd.picklist) and fd.restricted,
        "lookup": {"module": {"api_name": fd.lookup, "id": ""}, "display_label": fd.label, "api_name": fd.api_name}
        if fd.lookup else None,
    })
    if fd.data_type == "multi_module_lookup":
        out["multi_module_lookup"] = {"display_label": fd.label, "api_name": fd.api_name}
    return out
