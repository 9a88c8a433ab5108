"""A fresh database: the records a new Odoo database with CRM (and optionally Inventory) holds.

Ids follow a real database where a loader may rely on them: partner 1 is the company, 2 OdooBot,
3 the administrator's; user 1 is ``__system__`` (inactive), user 2 ``admin``. The administrator
gets a password and an API key (both printed by ``serve``); extra users come from a users file
(``name``, ``login``, ``email``, ``active``, ``share``, ``password``). Countries and states are
seeded with their ISO codes, the CRM stages and the mail subtypes with Odoo's external ids.
Inventory records are always seeded but invisible until the Inventory knob is on.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from sandbox.odoo.config import OdooStandinConfig
from sandbox.odoo.orm import Env
from sandbox.odoo.store import Store

COUNTRIES = (("us", "United States"), ("ca", "Canada"), ("gb", "United Kingdom"), ("fr", "France"),
             ("de", "Germany"), ("be", "Belgium"), ("nl", "Netherlands"), ("es", "Spain"), ("it", "Italy"),
             ("au", "Australia"), ("ie", "Ireland"), ("mx", "Mexico"))
#: Odoo's base data ships every US state (``base.state_us_*``, 50 states and DC): a loader resolving
#: ``state_id`` by code must find any of them.
US_STATES = (("AL", "Alabama"), ("AK", "Alaska"), ("AZ", "Arizona"), ("AR", "Arkansas"), ("CA", "California"),
             ("CO", "Colorado"), ("CT", "Connecticut"), ("DE", "Delaware"), ("DC", "District of Columbia"),
             ("FL", "Florida"), ("GA", "Georgia"), ("HI", "Hawaii"), ("ID", "Idaho"), ("IL", "Illinois"),
             ("IN", "Indiana"), ("IA", "Iowa"), ("KS", "Kansas"), ("KY", "Kentucky"), ("LA", "Louisiana"),
             ("ME", "Maine"), ("MD", "Maryland"), ("MA", "Massachusetts"), ("MI", "Michigan"), ("MN", "Minnesota"),
             ("MS", "Mississippi"), ("MO", "Missouri"), ("MT", "Montana"), ("NE", "Nebraska"), ("NV", "Nevada"),
             ("NH", "New Hampshire"), ("NJ", "New Jersey"), ("NM", "New Mexico"), ("NY", "New York"),
             ("NC", "North Carolina"), ("ND", "North Dakota"), ("OH", "Ohio"), ("OK", "Oklahoma"), ("OR", "Oregon"),
             ("PA", "Pennsylvania"), ("RI", "Rhode Island"), ("SC", "South Carolina"), ("SD", "South Dakota"),
             ("TN", "Tennessee"), ("TX", "Texas"), ("UT", "Utah"), ("VT", "Vermont"), ("VA", "Virginia"),
             ("WA", "Washington"), ("WV", "West Virginia"), ("WI", "Wisconsin"), ("WY", "Wyoming"))
STATES = (*(("us", code, name) for code, name in US_STATES), ("ca", "ON", "Ontario"),
          ("ca", "QC", "Quebec"), ("ca", "BC", "British Columbia"), ("au", "NSW", "New South Wales"))
STAGES = (("New", 1, False), ("Qualified", 2, False), ("Proposition", 3, False), ("Won", 70, True))
DEFAULT_USERS: list[dict[str, Any]] = [
    {"name": "Ada Field", "login": "ada@example.com", "email": "ada@example.com", "active": True},
    {"name": "Old Timer", "login": "old@example.com", "email": "old@example.com", "active": False},
    {"name": "Paula Portal", "login": "portal@example.com", "email": "portal@example.com", "share": True},
]


def _xmlid(env: Env, module: str, name: str, model: str, res_id: int) -> None:
    env.create("ir.model.data", [{"module": module, "name": name, "model": model, "res_id": res_id,
                                  "noupdate": True}])


def _one(env: Env, model: str, vals: dict[str, Any], xmlid: str | None = None) -> int:
    rid = env.create(model, [vals])[0]
    if xmlid:
        module, _, name = xmlid.partition(".")
        _xmlid(env, module, name, model, rid)
    return rid


def _geography(env: Env) -> None:
    countries = {code: _one(env, "res.country", {"name": name, "code": code.upper()}, f"base.{code}")
                 for code, name in COUNTRIES}
    for country, code, name in STATES:
        _one(env, "res.country.state", {"country_id": countries[country], "name": name, "code": code},
             f"base.state_{country}_{code.lower()}")


def _crm(env: Env) -> None:
    _one(env, "crm.team", {"name": "Sales"}, "sales_team.team_sales_department")
    for number, (name, sequence, won) in enumerate(STAGES, start=1):
        _one(env, "crm.stage", {"name": name, "sequence": sequence, "is_won": won}, f"crm.stage_lead{number}")
    _one(env, "mail.message.subtype", {"name": "Discussions", "internal": False}, "mail.mt_comment")
    _one(env, "mail.message.subtype", {"name": "Note", "internal": True}, "mail.mt_note")
    _one(env, "mail.message.subtype", {"name": "Activities", "internal": False}, "mail.mt_activities")


def _inventory(env: Env) -> None:
    units = _one(env, "uom.uom", {"name": "Units"}, "uom.product_uom_unit")
    stock = _one(env, "stock.location", {"name": "Stock", "complete_name": "WH/Stock", "usage": "internal"},
                 "stock.stock_location_stock")
    customers = _one(env, "stock.location", {"name": "Customers", "complete_name": "Partners/Customers",
                                             "usage": "customer"}, "stock.stock_location_customers")
    _one(env, "stock.picking.type", {"name": "Delivery Orders", "code": "outgoing", "sequence_code": "OUT",
                                     "default_location_src_id": stock, "default_location_dest_id": customers},
         "stock.picking_type_out")
    _one(env, "product.product", {"name": "Service Part", "default_code": "PART-001", "uom_id": units})


def create_db(path: Path, users: list[dict[str, Any]] | None = None, db_name: str = "flitstack") -> dict[str, str]:
    """Create the database file; returns the admin credentials (login, password, api_key)."""
    store = Store(path)
    config = OdooStandinConfig(inventory_installed=True)
    admin_password = secrets.token_urlsafe(12)
    api_key = secrets.token_hex(20)
    with store.tx():
        store.set_meta("db_name", db_name)
        env = Env(store, config, uid=1)
        _one(env, "res.partner", {"name": "My Company", "is_company": True, "email": "info@example.com",
                                  "country_id": False}, "base.main_partner")
        _one(env, "res.partner", {"name": "OdooBot", "email": "odoobot@example.com"}, "base.partner_root")
        _one(env, "res.partner", {"name": "Mitchell Admin", "email": "admin@example.com"},
             "base.partner_admin")
        _one(env, "res.users", {"login": "__system__", "name": "OdooBot", "partner_id": 2, "active": False},
             "base.user_root")
        _one(env, "res.users", {"login": "admin", "name": "Mitchell Admin", "email": "admin@example.com",
                                "partner_id": 3}, "base.user_admin")
        store.set_password(2, admin_password)
        store.add_api_key(api_key, 2, "flitstack stand-in")
        _geography(env)
        _crm(env)
        _inventory(env)
        for spec in users if users is not None else DEFAULT_USERS:
            fields = {k: spec[k] for k in ("name", "login", "email", "active", "share") if k in spec}
            fields.setdefault("login", spec.get("email"))
            uid = env.create("res.users", [fields])[0]
            store.set_password(uid, str(spec.get("password") or "password"))
        store.set_meta("admin_password", admin_password)
        store.set_meta("api_key", api_key)
    store.close()
    return {"login": "admin", "password": admin_password, "api_key": api_key}


def credentials(store: Store) -> dict[str, str]:
    return {"db": store.get_meta("db_name") or "", "login": "admin", "password": store.get_meta("admin_password") or "",
            "api_key": store.get_meta("api_key") or ""}
