"""The one registry of connectors: every place that needs to know which sources and destinations exist
reads it (the CLI, the API's validation, the local runtime, discovery, reports, the tests).

A connector is one folder, ``shared/connectors/<kind>/``, whose ``__init__`` declares a
:class:`Connector`: its kind and label, the secret it needs (a pydantic model, so a wrong secret is
refused naming the key), how to open it, its declared capabilities or limits, and its stand-in
(how to start it locally and turn what it announces into a secret). Adding a connector is that
folder, its stand-in under ``sandbox/<kind>``, its test kit under ``tests/kits/<kind>.py`` and one
line in :data:`MODULES` (``docs/adding-a-connector.md``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from shared.errors import ConfigurationError

if TYPE_CHECKING:
    from shared.connectors.destination import Capabilities, Destination, WriteCost
    from shared.connectors.source import Source, SourceLimits

#: One line per connector: the module (its folder) that declares it.
MODULES: tuple[str, ...] = (
    "shared.connectors.sercom",
    "shared.connectors.salesforce",
    "shared.connectors.dynamics",
    "shared.connectors.servicetracker",
    "shared.connectors.zoho",
    "shared.connectors.odoo",
)

Role = Literal["source", "destination"]


class SecretModel(BaseModel):
    """A connector's secret: the keys it needs, refused with the key's name when missing.

    Every secret may add ``ca_pem`` (a private CA, local stand-ins) and ``timeout_s`` (each call's deadline).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    url: str
    ca_pem: str | None = None
    timeout_s: float = 120.0


@dataclass(frozen=True)
class StandinOption:
    """A local-mode CLI option handed to this connector's stand-in (``--odoo-version 19`` -> ``serve --version 19``).

    The CLI adds it to ``demo`` / ``up`` for every connector declaring it and passes it on only when the
    connector is the run's source or destination, so no command names a connector.
    """

    flag: str
    serve_flag: str
    choices: tuple[str, ...]
    help: str

    @property
    def dest(self) -> str:
        """The argparse attribute (``--odoo-version`` -> ``odoo_version``)."""
        return self.flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class Connector:
    """What the rest of the product needs to know about one connector."""

    kind: str
    label: str
    role: Role
    secret: type[SecretModel]
    #: Opens an authenticated client from a validated secret.
    open: Callable[[Any], Any]
    #: ``Capabilities`` for a destination, ``SourceLimits`` for a source.
    declared: Any
    #: The stand-in's module (``python -m <module> serve``) for local mode and tests.
    standin: str
    #: What the running stand-in announced (its JSON line) -> the secret local mode stores for it.
    standin_secret: Callable[[dict[str, Any]], dict[str, Any]]
    #: Extra arguments of the stand-in's ``serve`` (a destination: its users file, made from the
    #: source's people by :attr:`standin_users`).
    standin_users: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None
    #: Extra ``serve`` arguments of the stand-in in local mode (a source: a tenant an unattended run is not
    #: held up by, e.g. ServiceTracker's mobile devices synced); tests add theirs after, which win.
    standin_local_args: tuple[str, ...] = ()
    #: Objects/secret facts shown in messages people read.
    notes: dict[str, str] = field(default_factory=dict)
    #: Options of ``flitstack demo`` / ``up`` passed to the stand-in (a version, an edition...).
    standin_options: tuple[StandinOption, ...] = ()
    #: A destination's cost model, ``"module:function"`` (``WriteCost`` of one load), imported when first used:
    #: the estimate prices a run with it before any credentials, the client's ``calls_needed`` reads the same.
    cost_model: str | None = None

    def write_cost(self, obj: str, count: int, allow_bulk: bool) -> WriteCost:
        """What one load of ``count`` records of ``obj`` costs on this destination (no connection needed)."""
        if self.cost_model is None:
            raise ConfigurationError(f"{self.label} declares no cost model (Connector.cost_model)")
        module, _, name = self.cost_model.partition(":")
        cost: WriteCost = getattr(importlib.import_module(module), name)(obj, count, allow_bulk)
        return cost

    def standin_args(self, values: Any) -> list[str]:
        """The stand-in's ``serve`` arguments for the options given (``values``: an argparse namespace)."""
        out: list[str] = []
        for opt in self.standin_options:
            value = getattr(values, opt.dest, None)
            if value is not None:
                out += [opt.serve_flag, str(value)]
        return out

    def parse_secret(self, name: str, raw: dict[str, Any]) -> Any:
        try:
            return self.secret.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            allowed = sorted(self.secret.model_fields)
            raise ConfigurationError(f"secret {name!r} for {self.label}: {problems} (keys: {allowed})") from None

    @property
    def capabilities(self) -> Capabilities:
        if self.role != "destination":
            raise ConfigurationError(f"{self.kind} is a source: it declares limits, not destination capabilities")
        return self.declared  # type: ignore[no-any-return]

    @property
    def limits(self) -> SourceLimits:
        if self.role != "source":
            raise ConfigurationError(f"{self.kind} is a destination: it declares capabilities")
        return self.declared  # type: ignore[no-any-return]


@cache
def _all() -> dict[str, Connector]:
    found: dict[str, Connector] = {}
    for module_name in MODULES:
        entry = getattr(importlib.import_module(module_name), "CONNECTOR", None)
        if not isinstance(entry, Connector):
            raise ConfigurationError(f"{module_name} declares no CONNECTOR")
        found[entry.kind] = entry
    return found


def connectors() -> list[Connector]:
    """Every registered connector, sorted by kind."""
    return [c for _, c in sorted(_all().items())]


def kinds(role: Role) -> list[str]:
    """The registered kinds of one role, sorted (what validation lists as allowed)."""
    return sorted(k for k, c in _all().items() if c.role == role)


def get(kind: str, role: Role) -> Connector:
    """The connector of ``kind``; an unknown kind is a configuration error naming the allowed ones."""
    entry = _all().get(kind)
    if entry is None or entry.role != role:
        raise ConfigurationError(f"{role} kind {kind!r} is not supported (allowed: {kinds(role)})")
    return entry


def source(kind: str) -> Connector:
    return get(kind, "source")


def destination(kind: str) -> Connector:
    return get(kind, "destination")


def open_source(kind: str, secret_name: str, raw: dict[str, Any]) -> Source:
    entry = source(kind)
    return entry.open(entry.parse_secret(secret_name, raw))  # type: ignore[no-any-return]


def open_destination(kind: str, secret_name: str, raw: dict[str, Any]) -> Destination:
    entry = destination(kind)
    return entry.open(entry.parse_secret(secret_name, raw))  # type: ignore[no-any-return]
