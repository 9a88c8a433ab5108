"""The source's automation rules as a rebuild plan for the destination: ``automation-rules.json`` and a page.

Rules never migrate (no CRM imports another's automation); what a person needs is, per rule, the
destination's nearest native construct and the steps to rebuild it there. Each destination declares its
constructs as data in ``shared/connectors/<kind>/automation.py`` (:class:`NativeAutomation`: one construct
per trigger, one hint per kind of condition and action); this module reads a rule's trigger, sorts its
conditions and actions by kind from their words, and writes the plan. The JSON follows
``docs/contracts/automation-export.schema.json`` (a test validates every destination's export against it).

A rule whose words match no known kind of action is still exported, as ``external``: the plan never drops
a rule or an action, it says what it could not place.
"""

from __future__ import annotations

import html
import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.connectors import registry
from shared.errors import ConfigurationError
from shared.mapping.spec import MigrationSpec
from shared.models import SourceCatalog

#: The version of the export's shape (``docs/contracts/automation-export.schema.json``).
SCHEMA_VERSION = 1
TRIGGERS = ("on_create", "on_update", "schedule")

#: Kinds of action, first match wins: (kind, pattern on the action's words).
ACTION_KINDS: tuple[tuple[str, str], ...] = (
    ("sms", r"sms\b|\btext message\b"),
    ("email", r"\bsend_?email\b|\bemail\b|\bmail\b"),
    ("assign", r"\bassign\b"),
    ("field_update", r"^\s*set\b|\bupdate\b(?!.*portal)"),
    ("create_record", r"^\s*create\b"),
    ("note", r"\bnote\b"),
    ("notify", r"\bnotify\b|\bpage\b|\balert\b"),
)
CONDITION_KINDS: tuple[tuple[str, str], ...] = (
    ("changed", r"\bchanged\b"),
    ("date_window", r"\bwithin\b.*\bdays?\b|\bage_hours\b|\bhours?\b"),
)


@dataclass(frozen=True)
class NativeAutomation:
    """One destination's automation constructs: trigger -> (construct, how to start it), hints per kind."""

    triggers: Mapping[str, tuple[str, str]]
    conditions: Mapping[str, str]
    actions: Mapping[str, str]
    #: The last step of every rebuild ("{active}": active / inactive in the source).
    activation: str


def native_automation(dest_kind: str) -> NativeAutomation:
    """The destination's declared constructs (its connector folder's ``automation.py``)."""
    registry.destination(dest_kind)  # an unknown kind is refused naming the allowed ones
    try:
        module = importlib.import_module(f"shared.connectors.{dest_kind}.automation")
    except ModuleNotFoundError:
        raise ConfigurationError(f"destination {dest_kind!r} declares no automation constructs "
                                 f"(shared/connectors/{dest_kind}/automation.py)") from None
    found = getattr(module, "AUTOMATION", None)
    if not isinstance(found, NativeAutomation):
        raise ConfigurationError(f"shared.connectors.{dest_kind}.automation declares no AUTOMATION")
    return found


def _kind(text: str, kinds: tuple[tuple[str, str], ...], fallback: str) -> str:
    for kind, pattern in kinds:
        if re.search(pattern, text, re.IGNORECASE):
            return kind
    return fallback


def _dest_objects(spec: MigrationSpec | None, source_object: str) -> list[str]:
    if spec is None:
        return []
    return list(dict.fromkeys(m.dest_object for m in spec.mappings if m.source_object == source_object
                              and not m.explode))


def export_rule(rule: Mapping[str, Any], native: NativeAutomation, spec: MigrationSpec | None) -> dict[str, Any]:
    """One rule: the source's words, the nearest construct, and the steps in order."""
    trigger = str(rule.get("trigger") or "")
    if trigger not in native.triggers:
        raise ConfigurationError(f"automation rule {rule.get('id')!r}: trigger {trigger!r} is not one of "
                                 f"{sorted(native.triggers)}")
    source_object = str(rule.get("object") or "")
    dest_objects = _dest_objects(spec, source_object)
    construct, start = native.triggers[trigger]
    schedule = str(rule.get("schedule") or "the source's schedule")
    where = " / ".join(dest_objects) or f"the object {source_object} would land in"
    conditions = [{"text": str(c), "kind": _kind(str(c), CONDITION_KINDS, "plain")} for c in rule.get("conditions", [])]
    actions = [{"text": str(a), "kind": _kind(str(a), ACTION_KINDS, "external")} for a in rule.get("actions", [])]
    for item in conditions:
        item["native"] = native.conditions[item["kind"]]
    for item in actions:
        item["native"] = native.actions[item["kind"]]
    active = bool(rule.get("active", True))
    steps = [] if dest_objects or spec is None else [
        f"{source_object} is not migrated by this pair: give its records a home first, or drop the rule"]
    steps.append(start.format(object=where, schedule=schedule))
    steps += [f"Condition '{c['text']}': {c['native']}" for c in conditions]
    steps += [f"Action '{a['text']}': {a['native']}" for a in actions]
    steps.append(native.activation.format(active="active" if active else "inactive"))
    return {
        "source_rule": {"id": str(rule.get("id") or ""), "name": str(rule.get("name") or ""),
                        "object": source_object, "trigger": trigger,
                        "schedule": str(rule["schedule"]) if rule.get("schedule") else None,
                        "conditions": [str(c) for c in rule.get("conditions", [])],
                        "actions": [str(a) for a in rule.get("actions", [])], "active": active},
        "dest_objects": dest_objects,
        "native": {"construct": construct, "trigger": trigger},
        "conditions": conditions,
        "actions": actions,
        "rebuild_steps": steps,
    }


def automation_export(catalog: SourceCatalog, pair: str, spec: MigrationSpec | None = None) -> dict[str, Any]:
    """The whole plan for one pair (JSON-ready, valid against the committed schema)."""
    source_kind, _, dest_kind = pair.partition("-")
    native = native_automation(dest_kind)
    return {
        "schema_version": SCHEMA_VERSION,
        "pair": pair,
        "source": {"kind": source_kind, "label": registry.source(source_kind).label},
        "destination": {"kind": dest_kind, "label": registry.destination(dest_kind).label},
        "rules": [export_rule(rule, native, spec) for rule in catalog.automation_rules],
    }


def automation_html(export: Mapping[str, Any]) -> str:
    """The plan as a readable, self-contained page (every value escaped)."""
    e = html.escape
    src, dest = export["source"]["label"], export["destination"]["label"]
    parts = [f"<h1>{e(src)} automation rules, rebuilt in {e(dest)}</h1>",
             f"<p>{len(export['rules'])} rules. Rules do not migrate: rebuild each one natively, then activate it "
             "after a test on a migrated record.</p>"]
    for r in export["rules"]:
        s = r["source_rule"]
        state = "active" if s["active"] else "inactive"
        parts.append(f"<section><h2>{e(s['name'])}</h2><p><b>{e(s['object'])}</b>, {e(s['trigger'])}"
                     f"{' (' + e(s['schedule']) + ')' if s['schedule'] else ''}, {state} in {e(src)} &rarr; "
                     f"<b>{e(r['native']['construct'])}</b> on {e(', '.join(r['dest_objects']) or '?')}</p>")
        parts.append("<ol>" + "".join(f"<li>{e(step)}</li>" for step in r["rebuild_steps"]) + "</ol></section>")
    style = ("body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa} main{max-width:980px;"
             "margin:0 auto;padding:24px} section{background:#fff;border:1px solid #ddd;padding:8px 16px;"
             "margin:12px 0} li{margin:4px 0}")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Automation rules: {e(src)} to "
            f"{e(dest)}</title><style>{style}</style></head><body><main>{''.join(parts)}</main></body></html>")
