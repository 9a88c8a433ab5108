"""The running org: store + schema + config + identity + the stand-in's clock, shared by every request.

Creating an org (first start) seeds its id, the OAuth client (client id/secret, a full-scope
refresh token and a read-only one), the admin user (the refresh tokens' owner) and the users
of ``--users-file``. The clock is real time plus an offset that tests move through
``/__standin/clock`` so the rolling 24 h credit window can roll without waiting a day.
"""

from __future__ import annotations

import json
import random
import secrets
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.zoho.config import ZohoStandinConfig
from sandbox.zoho.schema import DEAL_STAGES, FieldDef, ModuleDef, custom_module, standard_modules
from sandbox.zoho.store import Store

FULL_SCOPES = ["ZohoCRM.modules.ALL", "ZohoCRM.settings.ALL", "ZohoCRM.users.ALL", "ZohoCRM.org.ALL",
               "ZohoCRM.coql.READ", "ZohoCRM.bulk.ALL", "ZohoFiles.files.ALL"]
READ_SCOPES = ["ZohoCRM.modules.READ", "ZohoCRM.settings.READ", "ZohoCRM.users.READ"]
ADMIN_PROFILE = {"name": "Administrator", "id": "0"}
ADMIN_ROLE = {"name": "CEO", "id": "0"}


def iso(ts: float) -> str:
    """Zoho's date-time format (``yyyy-MM-ddTHH:mm:ss±HH:mm``), UTC."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


class FaultDice:
    """Seeded draws for injected faults, so a run with the same ``fault_seed`` fails the same calls."""

    def __init__(self, seed: int | None) -> None:
        self.seed = seed
        self.lock = threading.Lock()
        self.rng = random.Random(seed)

    def roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self.lock:
            return self.rng.random() < rate


class Org:
    """Everything a request handler needs about the org."""

    def __init__(self, state_path: Path, config: ZohoStandinConfig) -> None:
        self.store = Store(state_path)
        ident = self.store.get_meta("identity")
        if ident is None:
            raise RuntimeError(f"{state_path} is not an initialised Zoho stand-in org; run create_org first")
        self.identity: dict[str, Any] = json.loads(ident)
        self.config = config
        self.dice = FaultDice(config.fault_seed)
        self.schema_lock = threading.RLock()
        self.org_id: str = self.identity["org_id"]
        self.admin_id: str = self.identity["admin_id"]
        self.clock_offset = float(self.store.get_meta("clock_offset") or 0.0)
        self.modules: dict[str, ModuleDef] = {}
        self.rebuild_schema()

    # -- clock, ids, faults -----------------------------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self.clock_offset

    def advance_clock(self, seconds: float) -> float:
        self.clock_offset += seconds
        self.store.set_meta("clock_offset", repr(self.clock_offset))
        return self.now()

    def new_id(self) -> str:
        """A 19-digit numeric id like Zoho's (org prefix, zeros, a counter)."""
        return f"{self.identity['id_prefix']}000{self.store.next_number('id') + 400_000:09d}"

    def meta_id(self, kind: str, name: str) -> str:
        """A stable metadata id derived from a name (same across restarts)."""
        digest = sum((i + 1) * ord(ch) for i, ch in enumerate(f"{kind}:{name}")) % 1_000_000
        return f"{self.identity['id_prefix']}0000{digest:08d}"

    def roll(self, rate: float) -> bool:
        return self.dice.roll(rate)

    def set_config(self, config: ZohoStandinConfig) -> None:
        if config.fault_seed != self.dice.seed:
            self.dice = FaultDice(config.fault_seed)
        changed = config.pipelines != self.config.pipelines
        self.config = config
        if changed:
            self.rebuild_schema()

    def pipeline_stages(self) -> dict[str, list[str]]:
        """Deals pipelines -> their stages in order: Standard (every stage) and the configured ones."""
        return {"Standard": [s for s, _, _ in DEAL_STAGES], **self.config.pipelines}

    # -- schema -----------------------------------------------------------------------------------------------
    def rebuild_schema(self) -> None:
        with self.schema_lock:
            modules = standard_modules(self.meta_id)
            for definition in self.store.custom_modules():
                modules[definition["api_name"]] = custom_module(
                    definition["api_name"], definition["singular_label"], definition["plural_label"],
                    definition["id"], self.meta_id)
            for module, definition in self.store.custom_fields():
                if module in modules:
                    fd = FieldDef(**definition)
                    modules[module].fields[fd.api_name] = fd
            modules["Deals"].fields["Pipeline"].picklist = list(self.pipeline_stages())
            self.modules = modules

    def module(self, name: str) -> ModuleDef | None:
        """Module api names are matched case-insensitively, as Zoho does in URLs."""
        with self.schema_lock:
            if name in self.modules:
                return self.modules[name]
            for key, mod in self.modules.items():
                if key.lower() == name.lower():
                    return mod
        return None

    def minified_module(self, name: str) -> dict[str, str]:
        mod = self.module(name)
        return {"api_name": name, "id": mod.module_id if mod else ""}

    # -- users ------------------------------------------------------------------------------------------------
    def users(self) -> list[dict[str, Any]]:
        return self.store.scan("users")

    def user(self, user_id: str) -> dict[str, Any] | None:
        return self.store.get("users", user_id)

    def minified_user(self, user_id: str) -> dict[str, str]:
        user = self.user(user_id) or {}
        return {"name": user.get("full_name", ""), "id": user_id}

    def active_users(self) -> int:
        return sum(1 for u in self.users() if u.get("status") == "active")

    def credentials(self) -> dict[str, str]:
        return {k: self.identity[k] for k in ("client_id", "client_secret", "refresh_token", "readonly_refresh_token")}


def _user(org_id_prefix: str, number: int, first: str, last: str, email: str, status: str) -> dict[str, Any]:
    return {
        "id": f"{org_id_prefix}000{number:09d}", "first_name": first, "last_name": last,
        "full_name": f"{first} {last}".strip(), "email": email, "status": status, "confirm": status != "pending",
        "role": ADMIN_ROLE if number == 1 else {"name": "Manager", "id": "1"},
        "profile": ADMIN_PROFILE if number == 1 else {"name": "Standard", "id": "1"},
        "locale": "en_US", "country_locale": "en_US",
    }


def create_org(path: Path, users: list[dict[str, Any]]) -> None:
    """Initialise a fresh state file: identity, OAuth client, admin + the given users."""
    store = Store(path)
    try:
        prefix = str(random.SystemRandom().randint(1_000_000, 9_999_999))
        admin = _user(prefix, 1, "Zoho", "Admin", "admin@flitstack.example", "active")
        identity = {
            "org_id": f"{random.SystemRandom().randint(600_000_000, 899_999_999)}", "id_prefix": prefix,
            "admin_id": admin["id"], "client_id": "1000." + secrets.token_hex(15).upper(),
            "client_secret": secrets.token_hex(21), "refresh_token": "1000." + secrets.token_hex(32),
            "readonly_refresh_token": "1000." + secrets.token_hex(32), "created_at": time.time(),
        }
        store.put("users", admin["id"], admin)
        for number, user in enumerate(users, start=2):
            status = str(user.get("status", "active"))
            record = _user(prefix, number, str(user.get("first_name", "")), str(user.get("last_name", "")),
                           str(user["email"]), status)
            store.put("users", record["id"], record)
        store.set_meta("identity", json.dumps(identity))
    finally:
        store.close()
