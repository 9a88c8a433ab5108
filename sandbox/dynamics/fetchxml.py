"""FetchXML on an entity set (``GET /{set}?fetchXml=<url-encoded xml>``): one table, no joins.

Implemented as Microsoft documents it ("Use FetchXml to query data", "Page results using
FetchXml"): ``<fetch count page paging-cookie top distinct no-lock>`` over one ``<entity>`` with
``<attribute>``, ``<all-attributes>``, nested ``<filter type="and|or">`` of ``<condition>``\\ s
(operators below), ``<order attribute descending>``. Results leave out null-valued columns (unlike
OData queries). Paging: at most 5,000 rows a page; ``@Microsoft.Dynamics.CRM.morerecords`` and
``@Microsoft.Dynamics.CRM.fetchxmlpagingcookie`` (the ``<cookie pagenumber pagingcookie istracking>``
element whose ``pagingcookie`` is the twice-URL-encoded ``<cookie page><col last first/>…</cookie>``)
come back only when the ``Prefer: odata.include-annotations`` header asks for them, as documented.
A paging cookie resumes after the last row it names (rows written meanwhile are not skipped);
simple paging (``page`` without a cookie) cannot go past 50,000 rows.

Refused (400, never ignored): ``<link-entity>``, aggregates (``aggregate``/``groupby``/``alias``),
``valueof`` and ``entityname`` conditions, the date/hierarchy/user operators, and every element or
attribute not listed. Codes: unknown column ``0x80041103`` with the platform's "entity doesn't
contain attribute" wording (microsoft/PowerPlatform-DataverseServiceClient#299); an unknown
operator "Unknown Condition Operator: x" (rappen/FetchXMLBuilder#1110); the rest ``0x80040203``
with the stand-in's wording (UNCONFIRMED).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from sandbox.dynamics.errors import INVALID_ARGUMENT, DataverseError
from sandbox.dynamics.schema import LOOKUP_TYPES, OPTION_TYPES, Column, Table
from sandbox.dynamics.values import parse_datetime

QUERY_BUILDER_NO_ATTRIBUTE = "0x80041103"
MAX_PAGE = 5000
SIMPLE_PAGING_LIMIT = 50_000
FETCH_ATTRS = {"version", "mapping", "count", "page", "paging-cookie", "top", "distinct", "no-lock",
               "output-format", "returntotalrecordcount", "aggregate", "latematerialize", "useraworderby",
               "options", "datasource", "aggregatelimit"}
IMPLEMENTED_FETCH_ATTRS = {"version", "mapping", "count", "page", "paging-cookie", "top", "distinct", "no-lock"}
#: FetchXML operators Dataverse knows (the rest answer "Unknown Condition Operator").
KNOWN_OPERATORS = {
    "eq", "ne", "neq", "gt", "ge", "lt", "le", "null", "not-null", "in", "not-in", "like", "not-like",
    "begins-with", "not-begin-with", "ends-with", "not-end-with", "between", "not-between", "on", "on-or-before",
    "on-or-after", "yesterday", "today", "tomorrow", "last-x-days", "next-x-days", "last-week", "this-week",
    "next-week", "last-month", "this-month", "next-month", "last-year", "this-year", "next-year", "eq-userid",
    "ne-userid", "eq-businessid", "ne-businessid", "under", "not-under", "above", "eq-or-above", "eq-or-under",
    "contain-values", "not-contain-values", "olderthan-x-days", "last-x-hours", "next-x-hours", "in-fiscal-year",
}
Row = dict[str, Any]
Test = Callable[[Row], bool]


def fetch_error(message: str, code: str = INVALID_ARGUMENT) -> DataverseError:
    return DataverseError(400, code, message)


def no_attribute(table: Table, name: str) -> DataverseError:
    return fetch_error(f"'{table.logical}' entity doesn't contain attribute with Name = '{name}' and NameMapping = "
                       "'Logical'.", QUERY_BUILDER_NO_ATTRIBUTE)


@dataclass
class FetchQuery:
    """A parsed single-table FetchXML query."""

    columns: list[Column] | None  # None = all attributes
    test: Test
    orders: list[tuple[Column, bool]]
    count: int | None = None
    page: int = 1
    cookie: str | None = None
    top: int | None = None
    distinct: bool = False
    names: list[str] = field(default_factory=list)


def _int_attr(node: ET.Element, name: str, low: int, high: int) -> int | None:
    raw = node.get(name)
    if raw is None:
        return None
    if not raw.strip().isdigit() or not low <= int(raw) <= high:
        raise fetch_error(f"The '{name}' attribute of the fetch element must be an integer from {low} to {high} "
                          f"(got '{raw}').")
    return int(raw)


def parse(text: str, table: Table) -> FetchQuery:
    """Parse ``text`` for ``table`` (the entity set the request addressed), refusing what is not implemented."""
    if "<!DOCTYPE" in text.upper():
        raise fetch_error("The FetchXML is not valid: DTDs are not allowed.")
    try:
        root = ET.fromstring(text)  # noqa: S314 - see the import; the document is a query, not trusted markup
    except ET.ParseError as exc:
        raise fetch_error(f"The FetchXML is not valid XML: {exc}.") from exc
    if root.tag != "fetch":
        raise fetch_error(f"The root element of a FetchXML query must be 'fetch', not '{root.tag}'.")
    for name in root.attrib:
        if name not in FETCH_ATTRS:
            raise fetch_error(f"The '{name}' attribute is not declared on the fetch element.")
        if name not in IMPLEMENTED_FETCH_ATTRS and root.get(name, "false").lower() not in ("false", "0"):
            raise fetch_error(f"The fetch attribute '{name}' is not supported by the stand-in (aggregates, "
                              "total record counts and query options are not emulated).")
    if root.get("mapping", "logical") != "logical":
        raise fetch_error("The fetch element's mapping must be 'logical'.")
    entities = list(root)
    if len(entities) != 1 or entities[0].tag != "entity":
        raise fetch_error("A fetch element must hold exactly one entity element.")
    entity = entities[0]
    if entity.get("name") != table.logical:
        raise fetch_error(f"The entity '{entity.get('name')}' of the FetchXML does not match the entity set "
                          f"'{table.entity_set}' the request addresses.")
    query = FetchQuery(columns=[], test=lambda _row: True, orders=[])
    tests: list[Test] = []
    for child in entity:
        if child.tag == "attribute":
            _attribute(table, child, query)
        elif child.tag == "all-attributes":
            query.columns = None
        elif child.tag == "filter":
            tests.append(_filter(table, child))
        elif child.tag == "order":
            _order(table, child, query)
        elif child.tag == "link-entity":
            raise fetch_error("link-entity (joins) in FetchXML is not supported by the stand-in; query each table "
                              "on its own.")
        else:
            raise fetch_error(f"The element '{child.tag}' is not valid inside an entity element.")
    query.test = (lambda row: all(t(row) for t in tests)) if tests else query.test
    query.count = _int_attr(root, "count", 1, MAX_PAGE)
    query.page = _int_attr(root, "page", 1, 1_000_000) or 1
    query.top = _int_attr(root, "top", 1, MAX_PAGE)
    query.cookie = root.get("paging-cookie") or None
    query.distinct = root.get("distinct", "false").lower() in ("true", "1")
    if query.top is not None and (root.get("count") or root.get("page")):
        raise fetch_error("The top attribute can't be used together with the count or page paging attributes.")
    if query.cookie is None and (query.page - 1) * (query.count or MAX_PAGE) >= SIMPLE_PAGING_LIMIT:
        raise fetch_error(f"Simple paging (page without paging-cookie) cannot return more than "
                          f"{SIMPLE_PAGING_LIMIT:,} records; use the paging cookie.")
    return query


def _column(table: Table, name: str | None) -> Column:
    col = table.column(name or "")
    if col is None or not col.published:
        raise no_attribute(table, name or "")
    return col


def _attribute(table: Table, node: ET.Element, query: FetchQuery) -> None:
    extra = set(node.attrib) - {"name"}
    if extra & {"aggregate", "groupby", "alias", "dategrouping", "distinct", "usertimezone", "rowaggregate"}:
        raise fetch_error("Aggregate and aliased attributes in FetchXML are not supported by the stand-in.")
    if extra:
        raise fetch_error(f"The '{sorted(extra)[0]}' attribute is not declared on the attribute element.")
    col = _column(table, node.get("name"))
    if query.columns is not None and col not in query.columns:
        query.columns.append(col)


def _order(table: Table, node: ET.Element, query: FetchQuery) -> None:
    if node.get("alias") or node.get("entityname"):
        raise fetch_error("Ordering by an alias or a linked entity is not supported by the stand-in.")
    descending = node.get("descending", "false").lower()
    if descending not in ("true", "false", "1", "0"):
        raise fetch_error(f"The descending attribute of order must be true or false (got '{descending}').")
    query.orders.append((_column(table, node.get("attribute")), descending in ("true", "1")))


def _filter(table: Table, node: ET.Element) -> Test:
    kind = node.get("type", "and").lower()
    if kind not in ("and", "or"):
        raise fetch_error(f"The filter type must be 'and' or 'or' (got '{kind}').")
    parts: list[Test] = []
    for child in node:
        if child.tag == "condition":
            parts.append(_condition(table, child))
        elif child.tag == "filter":
            parts.append(_filter(table, child))
        elif child.tag == "link-entity":
            raise fetch_error("link-entity inside a filter is not supported by the stand-in.")
        else:
            raise fetch_error(f"The element '{child.tag}' is not valid inside a filter element.")
    if kind == "and":
        return lambda row: all(p(row) for p in parts)
    return lambda row: any(p(row) for p in parts)


def _typed(table: Table, col: Column, raw: str) -> Any:
    """A condition value as the column's type (SQL compares typed values; strings case-insensitively)."""
    text = raw.strip()
    try:
        if col.type in ("Integer", "BigInt") or col.type in OPTION_TYPES:
            return int(text)
        if col.type in ("Decimal", "Double", "Money"):
            return float(text)
        if col.type == "Boolean":
            if text.lower() not in ("0", "1", "true", "false"):
                raise ValueError(text)
            return text.lower() in ("1", "true")
        if col.type == "DateTime":
            return parse_datetime(text, col.fmt == "DateOnly")
    except ValueError as exc:
        raise fetch_error(f"The value '{raw}' is not valid for the {col.type} attribute '{col.logical}' of "
                          f"'{table.logical}'.") from exc
    if col.type in LOOKUP_TYPES or col.type == "Uniqueidentifier":
        return text.strip("{}").lower()
    return text.casefold()


def _value_of(col: Column, row: Row) -> Any:
    value = row.get(col.logical)
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, str) and col.type not in ("DateTime",):
        return value.casefold()
    if isinstance(value, bool) and col.type != "Boolean":
        return int(value)
    return value


def _like(pattern: str) -> re.Pattern[str]:
    """SQL LIKE (``%`` ``_`` ``[..]``) as a case-insensitive regex."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        elif ch == "[" and "]" in pattern[i + 1:]:
            end = pattern.index("]", i + 1)
            out.append("[" + pattern[i + 1:end].replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _condition(table: Table, node: ET.Element) -> Test:
    for unsupported in ("entityname", "valueof", "alias", "aggregate", "rowaggregate"):
        if node.get(unsupported):
            raise fetch_error(f"Conditions with '{unsupported}' are not supported by the stand-in.")
    op = (node.get("operator") or "").lower()
    if op not in KNOWN_OPERATORS:
        raise fetch_error(f"Unknown Condition Operator: {node.get('operator')}")
    col = _column(table, node.get("attribute"))
    values = [v.text or "" for v in node if v.tag == "value"]
    if node.get("value") is not None:
        values.insert(0, node.get("value") or "")

    def one() -> Any:
        if len(values) != 1:
            raise fetch_error(f"The condition operator '{op}' on '{col.logical}' needs exactly one value.")
        return values[0]

    if op in ("null", "not-null"):
        want = op == "null"
        return lambda row: (row.get(col.logical) is None) == want
    if op in ("in", "not-in"):
        if not values:
            raise fetch_error(f"The condition operator '{op}' on '{col.logical}' needs at least one value.")
        wanted = {_typed(table, col, v) for v in values}
        if op == "in":
            return lambda row: _value_of(col, row) in wanted
        return lambda row: (v := _value_of(col, row)) is not None and v not in wanted
    if op in ("like", "not-like", "begins-with", "not-begin-with", "ends-with", "not-end-with"):
        if col.type not in ("String", "Memo", "EntityName"):
            raise fetch_error(f"The condition operator '{op}' needs a string attribute; '{col.logical}' is "
                              f"{col.type}.")
        text = one()
        pattern = _like({"begins-with": f"{text}%", "not-begin-with": f"{text}%", "ends-with": f"%{text}",
                         "not-end-with": f"%{text}"}.get(op, text))
        negate = op.startswith("not")
        return lambda row: isinstance(v := row.get(col.logical), str) and bool(pattern.fullmatch(v)) != negate
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "neq": lambda a, b: a != b,
        "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b, "lt": lambda a, b: a < b, "le": lambda a, b: a <= b,
    }
    if op not in compare:
        raise fetch_error(f"The condition operator '{op}' is not supported by the stand-in (supported: eq, ne, gt, ge, "
                          "lt, le, null, not-null, in, not-in, like, not-like, begins-with, ends-with and their "
                          "negations).")
    target = _typed(table, col, one())
    fn = compare[op]

    def check(row: Row) -> bool:
        current = _value_of(col, row)
        try:
            return current is not None and fn(current, target)
        except TypeError:
            return False

    return check


def distinct(rows: list[Row], columns: list[Column]) -> list[Row]:
    """``distinct='true'``: the first row of each combination of the returned columns."""
    seen: set[str] = set()
    out: list[Row] = []
    for row in rows:
        signature = repr([row.get(c.logical) for c in columns])
        if signature not in seen:
            seen.add(signature)
            out.append(row)
    return out


def sort(rows: list[Row], orders: list[tuple[Column, bool]], primary_id: str) -> list[Row]:
    """Order as SQL Server does (NULLs first ascending), the primary key last so pages are stable."""
    out = sorted(rows, key=lambda r: str(r.get(primary_id)))
    if not orders:
        return list(rows)
    for col, desc in reversed(orders):
        present = [r for r in out if _value_of(col, r) is not None]
        missing = [r for r in out if _value_of(col, r) is None]
        present.sort(key=lambda r, c=col: _value_of(c, r), reverse=desc)  # type: ignore[misc]
        out = present + missing if desc else missing + present
    return out


def cookie_for(page: int, first: Row, last: Row, table: Table, orders: list[tuple[Column, bool]]) -> str:
    """The ``fetchxmlpagingcookie`` annotation for a page that has more records after it."""

    def attr(value: Any) -> str:
        text = value.get("id") if isinstance(value, dict) else value
        return "" if text is None else str(text).replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")

    parts = [f'<{col.logical} last="{attr(last.get(col.logical))}" first="{attr(first.get(col.logical))}" />'
             for col, _ in orders if col.logical != table.primary_id]
    pid = table.primary_id
    parts.append(f'<{pid} last="{{{str(last[pid]).upper()}}}" first="{{{str(first[pid]).upper()}}}" />')
    inner = f'<cookie page="{page}">{"".join(parts)}</cookie>'
    encoded = _lower_escapes(quote(_lower_escapes(quote(inner, safe="")), safe=""))
    return f'<cookie pagenumber="{page + 1}" pagingcookie="{encoded}" istracking="False" />'


def _lower_escapes(text: str) -> str:
    """Dataverse's cookies percent-encode with lower-case hex (``%253ccookie``), as .NET's UrlEncode does."""
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


def resume_after(cookie: str, table: Table) -> str | None:
    """The primary key of the last row a paging cookie names (None if it names none)."""
    text = cookie
    for _ in range(2):
        if text.lstrip().startswith("<"):
            break
        text = unquote(text)
    try:
        root = ET.fromstring(text)  # noqa: S314 - a cookie this stand-in issued; DTDs were refused with the query
    except ET.ParseError as exc:
        raise fetch_error("The paging-cookie attribute is not a valid paging cookie.") from exc
    node = root.find(table.primary_id)
    last = node.get("last") if node is not None else None
    return last.strip("{}").lower() if last else None
