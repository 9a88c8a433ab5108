"""Field and model specifications, and the value conversions Odoo's fields apply on write and read.

What a loader notices is reproduced: ``False`` (never ``None``) for empty values, integers and
floats read back as ``0``/``0.0``, dates as ``"YYYY-MM-DD"`` and datetimes as
``"YYYY-MM-DD HH:MM:SS"`` (an ISO ``T`` is refused, as ``strptime`` refuses it), selections
checked against their options, many2one given as an integer id (a list is refused).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

TTYPES = (
    "binary", "boolean", "char", "date", "datetime", "float", "html", "integer", "json", "many2many", "many2one",
    "many2one_reference", "monetary", "one2many", "reference", "selection", "text",
)
RELATIONAL = ("many2one", "one2many", "many2many")
X2MANY = ("one2many", "many2many")
LOG_ACCESS = ("create_uid", "create_date", "write_uid", "write_date")
DATE_FORMAT = "%Y-%m-%d"
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class FieldSpec:
    """One field of a model (builtin, or ``state='manual'`` from ``ir.model.fields``)."""

    name: str
    type: str
    string: str
    required: bool = False
    readonly: bool = False
    relation: str | None = None
    relation_field: str | None = None
    selection: tuple[tuple[str, str], ...] = ()
    store: bool = True
    default: Any = None
    help: str = ""
    manual: bool = False
    field_id: int = 0

    def label(self, model: str) -> str:
        return f"{model}.{self.name}"


@dataclass
class ModelSpec:
    """One model: its fields, default order, display-name field and the module that installs it."""

    name: str
    description: str
    fields: dict[str, FieldSpec] = field(default_factory=dict)
    order: str = "id"
    rec_name: str | None = "name"
    module: str = "base"
    mail_thread: bool = False
    manual: bool = False
    model_id: int = 0

    def with_fields(self, extra: dict[str, FieldSpec]) -> ModelSpec:
        return replace(self, fields={**self.fields, **extra})


def f(name: str, ftype: str, string: str, **kw: Any) -> FieldSpec:
    """Short constructor used by the catalog."""
    sel = kw.pop("selection", ())
    return FieldSpec(name, ftype, string, selection=tuple(tuple(s) for s in sel), **kw)


def magic_fields() -> list[FieldSpec]:
    """``id``, ``display_name`` and the log-access fields every model has."""
    return [
        f("id", "integer", "ID", readonly=True),
        f("display_name", "char", "Display Name", readonly=True, store=False),
        f("create_uid", "many2one", "Created by", relation="res.users", readonly=True),
        f("create_date", "datetime", "Created on", readonly=True),
        f("write_uid", "many2one", "Last Updated by", relation="res.users", readonly=True),
        f("write_date", "datetime", "Last Updated on", readonly=True),
    ]


def _parse(value: str, fmt: str) -> datetime:
    return datetime.strptime(value, fmt)  # ValueError "time data ... does not match format ..." as in Odoo


def convert_scalar(spec: FieldSpec, model: str, value: Any) -> Any:
    """The stored form of ``value`` for a non-relational field (raises ``ValueError`` like the ORM)."""
    if value is None:
        value = False
    ftype = spec.type
    if ftype == "boolean":
        return bool(value)
    if ftype in {"integer", "many2one_reference"}:
        return int(value or 0)
    if ftype in ("float", "monetary"):
        return float(value or 0.0)
    if value is False:
        return False
    if ftype == "selection":
        if value not in {k for k, _ in spec.selection}:
            raise ValueError(f"Wrong value for {spec.label(model)}: {value!r}")
        return value
    if isinstance(value, datetime) and ftype in ("date", "datetime"):
        return value.strftime(DATE_FORMAT if ftype == "date" else DATETIME_FORMAT)
    if ftype == "date":
        if not isinstance(value, str):
            raise TypeError(f"strptime() argument 1 must be str, not {type(value).__name__}")
        return _parse(value[:10], DATE_FORMAT).strftime(DATE_FORMAT)
    if ftype == "datetime":
        if not isinstance(value, str):
            raise TypeError(f"strptime() argument 1 must be str, not {type(value).__name__}")
        text = value[:19]
        if len(text) == 10:
            text += " 00:00:00"
        return _parse(text, DATETIME_FORMAT).strftime(DATETIME_FORMAT)
    if ftype == "json":
        return value
    if ftype == "binary":
        if isinstance(value, bytes):
            return value.decode()
        return str(value)
    return value if isinstance(value, str) else str(value)


def read_scalar(spec: FieldSpec, stored: Any) -> Any:
    """What ``read`` returns for a stored non-relational value."""
    if spec.type == "boolean":
        return bool(stored)
    if spec.type in ("integer", "many2one_reference"):
        return stored or 0
    if spec.type in ("float", "monetary"):
        return float(stored or 0.0)
    if stored is None or stored is False:
        return False
    return stored


def now() -> str:
    return datetime.utcnow().strftime(DATETIME_FORMAT)


Default = Callable[..., Any]
