"""The RPC services (``common``, ``object``, ``db``) and JSON-2 calls, one transaction per call.

Authentication follows ``odoo/service/common.py`` and ``res.users._check_credentials``:
``login``/``authenticate`` answer the uid or ``False`` (never a fault) and accept the password
or an API key; every ``object`` call re-checks credentials and raises AccessDenied (fault 3).
JSON-2 takes API keys only. A call runs inside one SQLite transaction with a deadline of
``limit_time_real``: past it the call is killed and everything it wrote is rolled back.
"""

from __future__ import annotations

import inspect
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox.odoo import access, errors
from sandbox.odoo.config import OdooStandinConfig
from sandbox.odoo.methods import Records, Rs, lookup
from sandbox.odoo.orm import Env
from sandbox.odoo.store import Store

Transport = str  # "xmlrpc" | "jsonrpc" | "json2"


def version_info(config: OdooStandinConfig) -> dict[str, Any]:
    """``common.version()``: a numbered release, or a SaaS one (major as the string ``saas~N``)."""
    version, minor = config.version, config.saas_minor
    edition = "e" if config.enterprise or config.online else ""
    suffix = f"+{edition}" if edition else ""
    if minor:
        serie = f"saas~{version}.{minor}"
        return {"server_version": f"{serie}{suffix}",
                "server_version_info": [f"saas~{version}", minor, 0, "final", 0, edition], "server_serie": serie,
                "protocol_version": 1}
    serie = f"{version}.0"
    return {"server_version": f"{serie}{suffix}", "server_version_info": [version, 0, 0, "final", 0, edition],
            "server_serie": serie, "protocol_version": 1}


class Database:
    """One served database: its store, knobs, fault dice and the services."""

    def __init__(self, path: Path, config: OdooStandinConfig) -> None:
        self.store = Store(path)
        self.config = config
        self.name = self.store.get_meta("db_name") or "odoo"
        self._rng = random.Random(config.fault_seed)
        self._rng_lock = threading.Lock()

    def set_config(self, config: OdooStandinConfig) -> None:
        if config.fault_seed != self.config.fault_seed:
            with self._rng_lock:
                self._rng = random.Random(config.fault_seed)
        self.config = config

    def roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._rng_lock:
            return self._rng.random() < rate

    # -- credentials ------------------------------------------------------------------------------------------
    def _user(self, uid: int) -> dict[str, Any] | None:
        return self.store.get("res.users", uid)

    def _credentials_ok(self, uid: int, secret: Any) -> bool:
        user = self._user(uid)
        if not user or not user.get("active", True) or not isinstance(secret, str) or not secret:
            return False
        return secret == self.store.password(uid) or self.store.api_key_uid(secret, time.time()) == uid

    def _check_db(self, db: Any) -> None:
        if db != self.name:
            raise errors.OperationalError(
                f'connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: FATAL:  database '
                f'"{db}" does not exist\n')

    def _check_plan(self) -> None:
        if self.config.api_refused():
            raise errors.AccessDenied(self.config.online_refusal_message)

    def login(self, db: Any, login: Any, password: Any) -> int | bool:
        self._check_db(db)
        self._check_plan()
        users = self.store.scan("res.users", [("login", login)]) if isinstance(login, str) else []
        for user in users:
            if self._credentials_ok(int(user["id"]), password):
                return int(user["id"])
        return False

    def check(self, db: Any, uid: Any, password: Any) -> int:
        """``security.check``: the uid's password or API key, else AccessDenied."""
        self._check_db(db)
        self._check_plan()
        number = int(uid)  # odoo/service/model.py dispatch: int(params[1]) (a non-number is a ValueError)
        if not self._credentials_ok(number, password):
            raise errors.AccessDenied
        return number

    def api_key_user(self, key: str) -> int | None:
        uid = self.store.api_key_uid(key, time.time())
        user = self._user(uid) if uid else None
        return uid if user and user.get("active", True) else None

    # -- services ---------------------------------------------------------------------------------------------
    def dispatch(self, service: str, method: str, params: list[Any], transport: Transport) -> Any:
        if service == "common":
            return self._common(method, params)
        if service == "object":
            return self._object(method, params, transport)
        if service == "db":
            return self._db(method, params)
        raise errors.HttpError(404, "NotFound", "The requested URL was not found on the server. If you entered the "
                               "URL manually please check your spelling and try again.")

    def _common(self, method: str, params: list[Any]) -> Any:
        def login(db: Any, login: Any, password: Any) -> Any:
            return self.login(db, login, password)

        def authenticate(db: Any, login: Any, password: Any, user_agent_env: Any) -> Any:
            return self.login(db, login, password)

        def version() -> Any:
            return version_info(self.config)

        def about(extended: bool = False) -> Any:
            info = "See http://openerp.com"
            return [info, f"{self.config.version}.0"] if extended else info

        table: dict[str, Callable[..., Any]] = {"login": login, "authenticate": authenticate, "version": version,
                                                "about": about}
        if method not in table:
            raise Exception(f"Method not found: {method}")
        return table[method](*params)

    def _db(self, method: str, params: list[Any]) -> Any:
        if method == "list":
            if self.config.online:
                raise errors.AccessDenied
            return [self.name]
        if method == "server_version":
            return version_info(self.config)["server_version"]
        if method in ("db_exist",):
            return params[:1] == [self.name]
        if method in ("create_database", "duplicate_database", "drop", "dump", "restore", "rename",
                      "change_admin_password", "migrate_databases"):
            raise errors.AccessDenied
        raise Exception(f"Method not found: {method}")

    def _object(self, method: str, params: list[Any], transport: Transport) -> Any:
        def execute_kw(db: Any, uid: Any, passwd: Any, obj: str, method: str, args: list[Any],
                       kw: dict[str, Any] | None = None) -> Any:
            uid = self.check(db, uid, passwd)
            return self.call(uid, obj, method, list(args), dict(kw or {}), transport)

        def execute(db: Any, uid: Any, passwd: Any, obj: str, method: str, *args: Any) -> Any:
            uid = self.check(db, uid, passwd)
            return self.call(uid, obj, method, list(args), {}, transport)

        if method == "execute_kw":
            return execute_kw(*params)
        if method == "execute":
            return execute(*params)
        raise NameError(f"Method not available {method}")

    # -- model calls ------------------------------------------------------------------------------------------
    def call(self, uid: int, model: str, method: str, args: list[Any], kwargs: dict[str, Any],
             transport: Transport) -> Any:
        """``execute_kw`` semantics: ids first for record methods; create -> id or ids."""
        context = kwargs.pop("context", None) or {}

        def run(env: Env) -> Any:
            if method.startswith("_"):  # check_method_name runs before the model is looked up
                lookup(env, model, method)
            if model not in env.registry:
                raise errors.UserError(f"Object {model} doesn't exist")
            fn, api_model = lookup(env, model, method)
            access.check(env, model, method)
            if api_model:
                result = fn(Rs(env, model, []), *args, **kwargs)
            else:
                ids, rest = args[0], args[1:]
                ids = [ids] if isinstance(ids, int) and not isinstance(ids, bool) else list(ids or [])
                result = fn(Rs(env, model, ids), *rest, **kwargs)
            if isinstance(result, Records):
                if method == "create":
                    vals = args[0] if args else kwargs.get("vals_list")
                    return result.ids[0] if isinstance(vals, dict) else result.ids
                return result.ids[0] if method == "message_post" else result.ids
            return result

        return self.transaction(uid, context, run)

    def call_json2(self, uid: int, model: str, method: str, body: dict[str, Any]) -> Any:
        """JSON-2: named arguments only, ``ids`` and ``context`` apart; records come back as ids."""
        body = dict(body)
        context = body.pop("context", None) or {}
        ids = body.pop("ids", None) or []

        def run(env: Env) -> Any:
            if model not in env.registry:
                raise errors.HttpError(404, "NotFound", f"the model {model!r} does not exist")
            try:
                fn, api_model = lookup(env, model, method)
            except AttributeError as exc:
                raise errors.HttpError(404, "NotFound", str(exc.args[0])) from exc
            if api_model and ids:
                raise errors.HttpError(422, "UnprocessableEntity", f"cannot call {model}.{method} with ids")
            access.check(env, model, method)
            rs = Rs(env, model, [] if api_model else [int(i) for i in ids])
            try:
                inspect.signature(fn).bind(rs, **body)
            except TypeError as exc:
                raise errors.HttpError(422, "UnprocessableEntity", str(exc)) from exc
            result = fn(rs, **body)
            return result.ids if isinstance(result, Records) else result

        return self.transaction(uid, context, run)

    def transaction(self, uid: int, context: dict[str, Any], run: Callable[[Env], Any]) -> Any:
        """One call = one transaction; past ``limit_time_real`` it is killed and nothing of it persists."""
        config = self.config
        deadline = time.monotonic() + config.limit_time_real_s
        with self.store.tx():
            env = Env(self.store, config, uid, context if isinstance(context, dict) else {}, deadline)
            result = run(env)
            if self.roll(config.fault_slow_rate):
                end = time.monotonic() + config.fault_slow_s
                while time.monotonic() < end:
                    env.check_deadline()
                    time.sleep(min(0.05, max(0.0, end - time.monotonic())))
            env.check_deadline()
        return result
