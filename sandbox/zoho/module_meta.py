"""The ``settings/modules`` descriptor of a module, with every key Zoho's ``modules.json`` declares required.

Zoho's descriptor is large (feature flags, the "All <plural>" custom view, lookup display
fields, profiles); a client reads a handful of keys (``api_name``, ``id``, ``generated_type``,
``api_supported``, labels) but a schema check reads them all, so the flags carry Zoho's usual
values for a standard module and the custom view is the module's default "All" view.
"""

from __future__ import annotations

from typing import Any

from sandbox.zoho.schema import ModuleDef

FLAGS_TRUE = ("common.search_supported", "deletable", "creatable", "recycle_bin_on_delete", "presence_sub_menu",
              "triggers_supported", "isBlueprintSupported", "visible", "editable", "emailTemplate_support",
              "filter_supported", "show_as_tab", "viewable", "api_supported", "quick_create", "feeds_required",
              "scoring_supported", "webform_supported", "chart_view_supported", "track_current_data",
              "kanban_view_supported", "filter_status")
FLAGS_FALSE = ("inventory_template_supported", "chart_view", "convertable", "email_parser_supported", "kanban_view",
               "zia_view")


def _owner(user: dict[str, str]) -> dict[str, str]:
    return {"name": user["name"], "id": user["id"]}


def describe_module(mod: ModuleDef, sequence: int, created: str, admin: dict[str, str],
                    meta_id: Any) -> dict[str, Any]:
    """One ``modules[]`` entry (``meta_id(kind, name)`` gives stable metadata ids)."""
    display = next((f for f in ("Last_Name", "Account_Name", "Deal_Name", "Subject", "Event_Title", "Name",
                                "Note_Title") if f in mod.fields), "id")
    display_field = {"api_name": display, "id": mod.fields[display].field_id if display in mod.fields else ""}
    owner = _owner(admin)
    view = {
        "display_value": f"All {mod.plural}", "system_name": "ALLVIEWS", "category": "public_views",
        "created_time": None, "modified_time": None, "last_accessed_time": None, "name": f"All {mod.plural}",
        "created_by": owner, "modified_by": owner, "module": {"name": mod.api_name, "id": mod.module_id},
        "criteria": {"comparator": None, "field": {"api_name": None, "id": None}, "value": None,
                     "group_operator": None, "group": []},
        "default": True, "system_defined": True, "locked": False, "favorite": None, "offline": False,
        "access_type": "public", "shared_to": [],
        "fields": [{"id": f.field_id, "api_name": f.api_name, "_pin": False} for f in mod.fields.values()][:10],
        "sort_by": {"id": display_field["id"], "api_name": display}, "sort_order": "asc",
        "id": meta_id("view", mod.api_name),
    }
    out: dict[str, Any] = {flag: True for flag in FLAGS_TRUE} | {flag: False for flag in FLAGS_FALSE}
    out.update({
        "id": mod.module_id, "api_name": mod.api_name, "module_name": mod.api_name, "singular_label": mod.singular,
        "plural_label": mod.plural, "description": None, "modified_time": created, "modified_by": owner,
        "generated_type": "custom" if mod.custom else "default", "api_supported": mod.api_supported,
        "convertable": mod.api_name == "Leads", "visibility": 1, "sequence_number": sequence,
        "web_link": None, "arguments": [], "profile_count": 2, "business_card_field_limit": 5,
        "profiles": [{"id": "0", "name": "Administrator"}, {"id": "1", "name": "Standard"}],
        "parent_module": {}, "activity_badge": "Enabled" if mod.api_name in ("Tasks", "Events", "Calls") else None,
        "$field_states": [], "business_card_fields": [], "per_page": 200, "$properties": [],
        "$on_demand_properties": [], "search_layout_fields": [display],
        "lookup_field_properties": {"fields": [{"sequence_number": 1, "api_name": display,
                                                "id": display_field["id"]}]},
        "related_lists": [], "related_list_properties": {"sort_by": display_field, "fields": [display],
                                                         "sort_order": "asc"},
        "display_field": display_field, "layouts": [{"id": meta_id("layout", mod.api_name), "name": "Standard"}],
        "fields": [],  # the full field list is settings/fields' job
        "custom_view": view, "default_mapping_fields": [], "layout_associations": [],
    })
    return out
