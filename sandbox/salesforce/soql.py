"""A SOQL subset: parser and evaluator over stored records.

Supported: ``SELECT f1, Parent.f2 | COUNT() | COUNT(f) FROM Obj [WHERE ...] [ORDER BY f [ASC|DESC]
[NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]`` with ``= != <> < > <= >= LIKE IN NOT IN AND OR NOT``,
parentheses, strings with escapes, numbers, booleans, null, date/datetime literals and the
relative date literals TODAY, YESTERDAY, TOMORROW, LAST_N_DAYS:n, NEXT_N_DAYS:n. Parent
relationship paths one level deep work in SELECT, WHERE and ORDER BY. Anything else is a
``MALFORMED_QUERY`` (unknown names are ``INVALID_FIELD`` / ``INVALID_TYPE``) like the real thing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sandbox.salesforce.errors import INVALID_FIELD_HINT, ApiError
from sandbox.salesforce.ids import normalize_id
from sandbox.salesforce.schema import ANY_OBJECT, FieldDef, ObjectDef, Schema
from sandbox.salesforce.store import sf_datetime
from sandbox.salesforce.values import parse_datetime

_TOKEN_RE = re.compile(
    r"""(?P<ws>\s+)
    |(?P<str>'(?:[^'\\]|\\.)*')
    |(?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
    |(?P<date>\d{4}-\d{2}-\d{2})
    |(?P<num>-?\d+(?:\.\d+)?)
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    |(?P<op>!=|<>|<=|>=|=|<|>)
    |(?P<punct>[(),:])""",
    re.X,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}
RELATIVE_DATES = {"TODAY", "YESTERDAY", "TOMORROW", "LAST_N_DAYS", "NEXT_N_DAYS"}


@dataclass
class Tok:
    kind: str
    text: str
    pos: int


@dataclass
class Lit:
    kind: str  # str | num | bool | null | date | dt | range
    value: Any
    raw: str = ""


@dataclass
class Path:
    parts: list[str]
    pos: int


@dataclass
class Cmp:
    path: Path
    op: str  # = != < > <= >= like in notin
    value: Lit | list[Lit]


@dataclass
class BoolOp:
    op: str
    items: list[Any]


@dataclass
class Not:
    item: Any


@dataclass
class Order:
    path: Path
    desc: bool
    nulls_last: bool


@dataclass
class Query:
    obj: str
    obj_pos: int
    fields: list[Path] = field(default_factory=list)
    count: bool = False
    count_field: Path | None = None
    where: Any = None
    order: list[Order] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0


def malformed(soql: str, pos: int, message: str) -> ApiError:
    return ApiError.of(400, "MALFORMED_QUERY", _locate(soql, pos, message))


def _locate(soql: str, pos: int, message: str) -> str:
    line = soql.replace("\n", " ")
    return f"\n{line}\n{' ' * pos}^\nERROR at Row:1:Column:{pos + 1}\n{message}"


def tokenize(soql: str) -> list[Tok]:
    out: list[Tok] = []
    pos = 0
    while pos < len(soql):
        match = _TOKEN_RE.match(soql, pos)
        if not match:
            raise malformed(soql, pos, f"unexpected token: '{soql[pos : pos + 10]}'")
        kind = match.lastgroup or ""
        if kind != "ws":
            out.append(Tok(kind, match.group(), pos))
        pos = match.end()
    out.append(Tok("eof", "", len(soql)))
    return out


class Parser:
    def __init__(self, soql: str) -> None:
        self.soql = soql
        self.toks = tokenize(soql)
        self.i = 0

    @property
    def tok(self) -> Tok:
        return self.toks[self.i]

    def kw(self, *words: str) -> bool:
        return self.tok.kind == "ident" and self.tok.text.upper() in words

    def take(self) -> Tok:
        tok = self.tok
        self.i += 1
        return tok

    def expect_kw(self, word: str) -> None:
        if not self.kw(word):
            raise self.error(f"unexpected token: '{self.tok.text or 'EOF'}' (expecting {word})")
        self.take()

    def expect(self, text: str) -> None:
        if self.tok.text != text:
            raise self.error(f"unexpected token: '{self.tok.text or 'EOF'}' (expecting '{text}')")
        self.take()

    def error(self, message: str) -> ApiError:
        return malformed(self.soql, self.tok.pos, message)

    def parse(self) -> Query:
        self.expect_kw("SELECT")
        fields: list[Path] = []
        count = False
        count_field: Path | None = None
        if self.kw("COUNT") and self.toks[self.i + 1].text == "(":
            self.take()
            self.take()
            if self.tok.text != ")":
                count_field = self.path()
            self.expect(")")
            count = True
        else:
            fields.append(self.path())
            while self.tok.text == ",":
                self.take()
                if self.tok.text == "(":
                    raise self.error("Child relationship subqueries are not supported by the stand-in")
                fields.append(self.path())
        self.expect_kw("FROM")
        if self.tok.kind != "ident":
            raise self.error(f"unexpected token: '{self.tok.text or 'EOF'}'")
        obj_tok = self.take()
        query = Query(obj_tok.text, obj_tok.pos, fields, count, count_field)
        if self.kw("WHERE"):
            self.take()
            query.where = self.or_expr()
        if self.kw("ORDER"):
            self.take()
            self.expect_kw("BY")
            query.order.append(self.order_item())
            while self.tok.text == ",":
                self.take()
                query.order.append(self.order_item())
        if self.kw("LIMIT"):
            self.take()
            query.limit = self.integer()
        if self.kw("OFFSET"):
            self.take()
            query.offset = self.integer()
        if self.tok.kind != "eof":
            raise self.error(f"unexpected token: '{self.tok.text}'")
        return query

    def integer(self) -> int:
        tok = self.take()
        if tok.kind != "num" or not tok.text.isdigit():
            raise malformed(self.soql, tok.pos, f"unexpected token: '{tok.text}' (expecting a number)")
        return int(tok.text)

    def path(self) -> Path:
        tok = self.take()
        if tok.kind != "ident" or tok.text.upper() in ("FROM", "WHERE"):
            raise malformed(self.soql, tok.pos, f"unexpected token: '{tok.text or 'EOF'}'")
        return Path(tok.text.split("."), tok.pos)

    def order_item(self) -> Order:
        path = self.path()
        desc = False
        if self.kw("ASC", "DESC"):
            desc = self.take().text.upper() == "DESC"
        nulls_last = desc
        if self.kw("NULLS"):
            self.take()
            if not self.kw("FIRST", "LAST"):
                raise self.error("expecting FIRST or LAST")
            nulls_last = self.take().text.upper() == "LAST"
        return Order(path, desc, nulls_last)

    def or_expr(self) -> Any:
        items = [self.and_expr()]
        while self.kw("OR"):
            self.take()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else BoolOp("or", items)

    def and_expr(self) -> Any:
        items = [self.not_expr()]
        while self.kw("AND"):
            self.take()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else BoolOp("and", items)

    def not_expr(self) -> Any:
        if self.kw("NOT"):
            self.take()
            return Not(self.not_expr())
        if self.tok.text == "(":
            self.take()
            inner = self.or_expr()
            self.expect(")")
            return inner
        return self.comparison()

    def comparison(self) -> Cmp:
        path = self.path()
        if self.tok.kind == "op":
            op = self.take().text
            return Cmp(path, "!=" if op == "<>" else op, self.literal())
        if self.kw("LIKE"):
            self.take()
            return Cmp(path, "like", self.literal())
        negate = False
        if self.kw("NOT"):
            self.take()
            negate = True
        if self.kw("IN"):
            self.take()
            self.expect("(")
            if self.kw("SELECT"):
                raise self.error("Semi-join subqueries are not supported by the stand-in")
            values = [self.literal()]
            while self.tok.text == ",":
                self.take()
                values.append(self.literal())
            self.expect(")")
            return Cmp(path, "notin" if negate else "in", values)
        raise self.error(f"unexpected token: '{self.tok.text or 'EOF'}'")

    def literal(self) -> Lit:
        tok = self.take()
        if tok.kind == "str":
            return Lit("str", _unescape(tok.text[1:-1]), tok.text[1:-1])
        if tok.kind == "num":
            return Lit("num", float(tok.text), tok.text)
        if tok.kind == "date":
            return Lit("date", tok.text, tok.text)
        if tok.kind == "dt":
            return Lit("dt", sf_datetime(parse_datetime(tok.text)), tok.text)
        if tok.kind == "ident":
            word = tok.text.upper()
            if word in ("TRUE", "FALSE"):
                return Lit("bool", word == "TRUE", tok.text)
            if word == "NULL":
                return Lit("null", None, tok.text)
            if word in RELATIVE_DATES:
                days = 0
                if word.endswith("_N_DAYS"):
                    self.expect(":")
                    days = self.integer()
                return Lit("range", _relative_range(word, days), tok.text)
        raise malformed(self.soql, tok.pos, f"unexpected token: '{tok.text or 'EOF'}'")


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), text)


def _relative_range(word: str, days: int) -> tuple[date, date]:
    today = datetime.now(UTC).date()
    one = timedelta(days=1)
    return {
        "TODAY": (today, today + one),
        "YESTERDAY": (today - one, today),
        "TOMORROW": (today + one, today + 2 * one),
        "LAST_N_DAYS": (today - days * one, today + one),
        "NEXT_N_DAYS": (today, today + (days + 1) * one),
    }[word]


def _like_regex(raw: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            out.append(re.escape(_ESCAPES.get(raw[i + 1], raw[i + 1])))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("^" + "".join(out) + "$", re.I | re.S)


# ------------------------------------------------------------------------------------------------
# Binding and evaluation

Getter = Callable[[dict[str, Any]], Any]


@dataclass
class Bound:
    """A resolved field path: how to read it from a row and what type it has."""

    key: str  # output key (canonical)
    fdef: FieldDef | None
    rel: FieldDef | None = None  # the reference field when this is a parent path
    parent_field: str | None = None


class Executor:
    """Runs a parsed query against one object's rows (records, or Tooling pseudo-rows)."""

    def __init__(
        self,
        soql: str,
        query: Query,
        objdef: ObjectDef,
        *,
        schema: Schema | None,
        load_parents: Callable[[list[str]], dict[str, tuple[str, dict[str, Any]]]] | None = None,
        api_version: str = "60.0",
        url_base: str | None = None,
    ) -> None:
        self.soql = soql
        self.url_base = url_base or f"/services/data/v{api_version}/sobjects"
        self.q = query
        self.objdef = objdef
        self.schema = schema
        self.load_parents = load_parents
        self.version = api_version
        self.parents: dict[str, tuple[str, dict[str, Any]]] = {}
        self.select = [self.bind(p) for p in query.fields]
        self.count_bound = self.bind(query.count_field) if query.count_field else None
        self.where = self.compile(query.where) if query.where is not None else None
        self.order = [(self.bind(o.path), o) for o in query.order]

    def invalid(self, pos: int, message: str) -> ApiError:
        return ApiError.of(400, "INVALID_FIELD", _locate(self.soql, pos, message))

    def bind(self, path: Path) -> Bound:
        parts = list(path.parts)
        if len(parts) > 1 and parts[0].lower() == self.objdef.name.lower():
            parts = parts[1:]
        if len(parts) == 1:
            own = self.objdef.field(parts[0])
            if own is None:
                raise self.invalid(
                    path.pos, f"No such column '{parts[0]}' on entity '{self.objdef.name}'. {INVALID_FIELD_HINT}"
                )
            return Bound(own.name, own)
        if len(parts) > 2:
            raise malformed(self.soql, path.pos, "The stand-in supports parent relationships one level deep only")
        rel = self.objdef.relationship(parts[0])
        if rel is None or self.schema is None:
            raise self.invalid(
                path.pos,
                (
                    f"Didn't understand relationship '{parts[0]}' in field path. If you are attempting to use a custom "
                    "relationship, be sure to append the '__r' after the custom relationship name. Please reference "
                    "your WSDL or the describe call for the appropriate names."
                ),
            )
        targets = self.schema.reference_targets(rel)
        fdef: FieldDef | None = None
        if len(targets) == 1 and ANY_OBJECT not in rel.reference_to:
            tdef = self.schema.get(targets[0])
            fdef = tdef.field(parts[1]) if tdef else None
            if fdef is None:
                raise self.invalid(
                    path.pos, f"No such column '{parts[1]}' on entity '{targets[0]}'. {INVALID_FIELD_HINT}"
                )
        else:  # polymorphic: resolve per row
            for target in targets:
                tdef = self.schema.get(target)
                fdef = tdef.field(parts[1]) if tdef else None
                if fdef is not None:
                    break
            if fdef is None:
                raise self.invalid(path.pos, f"No such column '{parts[1]}' on entity 'Name'. {INVALID_FIELD_HINT}")
        return Bound(fdef.name, fdef, rel, fdef.name)

    def value(self, bound: Bound, row: dict[str, Any]) -> Any:
        if bound.rel is None:
            return row.get(bound.key)
        parent_id = row.get(bound.rel.name)
        parent = self.parents.get(parent_id) if parent_id else None
        return parent[1].get(bound.key) if parent else None

    # -- WHERE ------------------------------------------------------------------------------------
    def compile(self, node: Any) -> Callable[[dict[str, Any]], bool]:
        if isinstance(node, BoolOp):
            parts = [self.compile(n) for n in node.items]
            if node.op == "and":
                return lambda r: all(p(r) for p in parts)
            return lambda r: any(p(r) for p in parts)
        if isinstance(node, Not):
            inner = self.compile(node.item)
            return lambda r: not inner(r)
        return self.compile_cmp(node)

    def compile_cmp(self, cmp: Cmp) -> Callable[[dict[str, Any]], bool]:
        bound = self.bind(cmp.path)
        fdef = bound.fdef
        assert fdef is not None
        if cmp.op == "like":
            if not isinstance(cmp.value, Lit) or cmp.value.kind != "str":
                raise malformed(self.soql, cmp.path.pos, "LIKE needs a string pattern")
            regex = _like_regex(cmp.value.raw)
            return lambda r: (v := self.value(bound, r)) is not None and bool(regex.match(str(v)))
        if cmp.op in ("in", "notin"):
            assert isinstance(cmp.value, list)
            wanted = {self.norm(fdef, self.literal_for(fdef, lit, cmp.path.pos)) for lit in cmp.value}
            if cmp.op == "in":
                return lambda r: self.norm(fdef, self.value(bound, r)) in wanted
            return lambda r: self.norm(fdef, self.value(bound, r)) not in wanted
        assert isinstance(cmp.value, Lit)
        lit = cmp.value
        if lit.kind == "range":
            return self.range_predicate(bound, cmp.op, lit.value)
        target = self.norm(fdef, self.literal_for(fdef, lit, cmp.path.pos))
        op = cmp.op
        if target is None:
            if op == "=":
                return lambda r: self.value(bound, r) is None
            if op == "!=":
                return lambda r: self.value(bound, r) is not None
            return lambda r: False

        def predicate(row: dict[str, Any]) -> bool:
            current = self.norm(fdef, self.value(bound, row))
            if op == "=":
                return bool(current == target)
            if op == "!=":
                return bool(current != target)
            if current is None:
                return False
            return bool(
                {"<": current < target, ">": current > target, "<=": current <= target, ">=": current >= target}[op]
            )

        return predicate

    def range_predicate(self, bound: Bound, op: str, rng: tuple[date, date]) -> Callable[[dict[str, Any]], bool]:
        start, end = rng[0].isoformat(), rng[1].isoformat()

        def predicate(row: dict[str, Any]) -> bool:
            raw = self.value(bound, row)
            if raw is None:
                return op == "!="
            day = str(raw)[:10]
            inside = start <= day < end
            return {
                "=": inside,
                "!=": not inside,
                "<": day < start,
                ">=": day >= start,
                ">": day >= end,
                "<=": day < end,
            }[op]

        return predicate

    def literal_for(self, fdef: FieldDef, lit: Lit, pos: int) -> Any:
        """Check the literal's type against the field, as SOQL does, and return its value."""
        if lit.kind == "null":
            return None
        kind = fdef.type
        want = {
            "boolean": "bool",
            "double": "num",
            "currency": "num",
            "percent": "num",
            "int": "num",
            "date": "date",
            "datetime": "dt",
        }.get(kind, "str")
        if kind == "datetime" and lit.kind == "date":
            want = "dt"
        if lit.kind != want:
            xsd = {"bool": "boolean", "num": "number", "date": "date", "dt": "dateTime", "str": "string"}[want]
            quoted = "should be enclosed in quotes" if want == "str" else "should not be enclosed in quotes"
            raise self.invalid(
                pos, f"value of filter criterion for field '{fdef.name}' must be of type {xsd} and {quoted}"
            )
        if kind in ("id", "reference") and isinstance(lit.value, str):
            return normalize_id(lit.value) or lit.value
        return lit.value

    @staticmethod
    def norm(fdef: FieldDef, value: Any) -> Any:
        if value is None:
            return None
        if fdef.type in ("id", "reference"):
            return str(value)
        if isinstance(value, str):
            return value if fdef.type in ("date", "datetime") else value.casefold()
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return float(value)
        return value

    # -- index use ------------------------------------------------------------------------------------
    def key_filter(self) -> tuple[FieldDef, list[Any]] | None:
        """A term of the WHERE clause's top-level AND that only rows with given values of ``Id`` or of a keyed
        (external-id / unique) field can pass: ``f = v`` or ``f IN (...)``, no null among the values. Returns
        that field and its wanted values as :meth:`norm` gives them (the term with the fewest), or None.

        The rows holding those values are a superset of the result, so the caller may read only them and
        still run the whole WHERE clause over each, in the store's order: the same rows as a full read.
        """
        terms = self.q.where.items if isinstance(self.q.where, BoolOp) and self.q.where.op == "and" else [self.q.where]
        best: tuple[FieldDef, list[Any]] | None = None
        for term in terms:
            if not isinstance(term, Cmp) or term.op not in ("=", "in"):
                continue
            bound = self.bind(term.path)
            fdef = bound.fdef
            if bound.rel is not None or fdef is None:
                continue
            if not (fdef.type == "id" or (fdef.keyed and fdef.type not in _UNKEYED_TYPES)):
                continue
            lits = term.value if isinstance(term.value, list) else [term.value]
            if any(lit.kind in ("null", "range") for lit in lits):
                continue
            values = [self.norm(fdef, self.literal_for(fdef, lit, term.path.pos)) for lit in lits]
            if best is None or len(values) < len(best[1]):
                best = (fdef, values)
        return best

    # -- run ----------------------------------------------------------------------------------------
    def run(self, rows: Iterable[dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
        """Return (totalSize, shaped records) for the whole result (paging is the caller's job)."""
        rows = list(rows)
        self._preload_parents(rows)
        if self.where is not None:
            rows = [r for r in rows if self.where(r)]
        for bound, order in reversed(self.order):
            fdef = bound.fdef
            assert fdef is not None
            present = [r for r in rows if self.value(bound, r) is not None]
            absent = [r for r in rows if self.value(bound, r) is None]
            present.sort(key=self._sort_key(bound, fdef), reverse=order.desc)
            rows = present + absent if order.nulls_last else absent + present
        rows = rows[self.q.offset :]
        if self.q.limit is not None:
            rows = rows[: self.q.limit]
        if self.q.count:
            if self.count_bound is None:
                return len(rows), []
            total = sum(1 for r in rows if self.value(self.count_bound, r) is not None)
            return 1, [{"attributes": {"type": "AggregateResult"}, "expr0": total}]
        return len(rows), [self.shape(r) for r in rows]

    # -- streaming: the query API reads the store a chunk at a time --------------------------------------
    @property
    def ordered(self) -> bool:
        return bool(self.order)

    def load_parents_of(self, rows: list[dict[str, Any]]) -> None:
        """Parents referenced by ``rows`` (replacing the previous chunk's), for WHERE, ORDER BY and shaping."""
        rels = self._rels()
        if not rels or self.load_parents is None:
            return
        ids = sorted({str(r[name]) for r in rows for name in rels if r.get(name)})
        self.parents = self.load_parents(ids)

    def matching(self, chunks: Iterable[list[tuple[int, dict[str, Any]]]]) -> Iterator[tuple[int, dict[str, Any]]]:
        """The rows of ``chunks`` (``(seq, row)`` in store order) that pass WHERE, one chunk's parents at a time."""
        for chunk in chunks:
            self.load_parents_of([row for _, row in chunk])
            yield from ((seq, row) for seq, row in chunk if self.where is None or self.where(row))

    def window(self, matches: Iterable[tuple[int, dict[str, Any]]]) -> Iterator[tuple[int, dict[str, Any]]]:
        """OFFSET and LIMIT over matches already in result order."""
        skip, left = self.q.offset, self.q.limit
        for item in matches:
            if skip:
                skip -= 1
                continue
            if left is not None:
                if left <= 0:
                    return
                left -= 1
            yield item

    def ordered_seqs(self, chunks: Iterable[list[tuple[int, dict[str, Any]]]]) -> list[int]:
        """The matches' positions sorted as ORDER BY says (the same stable passes as :meth:`run`), windowed.

        Only each match's sort values and position are held while sorting, never the rows.
        """
        items: list[tuple[int, list[Any]]] = []
        for chunk in chunks:
            self.load_parents_of([row for _, row in chunk])
            for seq, row in chunk:
                if self.where is None or self.where(row):
                    items.append((seq, [self.value(b, row) for b, _ in self.order]))
        for index in reversed(range(len(self.order))):
            bound, order = self.order[index]
            fdef = bound.fdef
            assert fdef is not None
            present = [it for it in items if it[1][index] is not None]
            absent = [it for it in items if it[1][index] is None]
            present.sort(key=_sort_value(index, fdef), reverse=order.desc)
            items = present + absent if order.nulls_last else absent + present
        seqs = [seq for seq, _ in items][self.q.offset :]
        return seqs if self.q.limit is None else seqs[: self.q.limit]

    def aggregate(self, rows: Iterable[dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
        """COUNT() / COUNT(field) over the windowed matches."""
        if self.count_bound is None:
            return sum(1 for _ in rows), []
        total = sum(1 for r in rows if self.value(self.count_bound, r) is not None)
        return 1, [{"attributes": {"type": "AggregateResult"}, "expr0": total}]

    def _rels(self) -> set[str]:
        rels = {b.rel.name for b in [*self.select, *(b for b, _ in self.order)] if b.rel is not None}
        if self.count_bound is not None and self.count_bound.rel is not None:
            rels.add(self.count_bound.rel.name)
        if self.q.where is not None:
            rels |= {b.rel.name for b in self._where_bounds(self.q.where) if b.rel is not None}
        return rels

    def _sort_key(self, bound: Bound, fdef: FieldDef) -> Callable[[dict[str, Any]], Any]:
        return lambda row: self.norm(fdef, self.value(bound, row))

    def _preload_parents(self, rows: list[dict[str, Any]]) -> None:
        rels = {b.rel.name for b in [*self.select, *(b for b, _ in self.order)] if b.rel is not None}
        if self.q.where is not None:
            rels |= {b.rel.name for b in self._where_bounds(self.q.where) if b.rel is not None}
        if not rels or self.load_parents is None:
            return
        ids = sorted({str(r[name]) for r in rows for name in rels if r.get(name)})
        self.parents = self.load_parents(ids)

    def _where_bounds(self, node: Any) -> list[Bound]:
        if isinstance(node, BoolOp):
            return [b for n in node.items for b in self._where_bounds(n)]
        if isinstance(node, Not):
            return self._where_bounds(node.item)
        return [self.bind(node.path)]

    def url(self, obj: str, rid: Any) -> str:
        return f"{self.url_base}/{obj}/{rid}"

    def shape(self, row: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attributes": {"type": self.objdef.name, "url": self.url(self.objdef.name, row.get("Id"))}
        }
        for bound in self.select:
            if bound.rel is None:
                out[bound.key] = self.output_value(self.objdef.name, bound.key, row)
                continue
            rel_name = bound.rel.relationship_name or bound.rel.name
            parent_id = row.get(bound.rel.name)
            parent = self.parents.get(parent_id) if parent_id else None
            if parent is None:
                out.setdefault(rel_name, None)
                continue
            nested = out.get(rel_name) or {"attributes": {"type": parent[0], "url": self.url(parent[0], parent_id)}}
            nested[bound.key] = self.output_value(parent[0], bound.key, parent[1])
            out[rel_name] = nested
        return out

    def output_value(self, obj: str, key: str, row: dict[str, Any]) -> Any:
        if key == "VersionData" and row.get(key) is not None:
            return self.url(obj, row.get("Id")) + "/VersionData"
        return row.get(key)


#: Types whose :meth:`Executor.norm` is not the case-folded text or float that ``query_keys`` holds.
_UNKEYED_TYPES = ("id", "reference", "date", "datetime", "boolean")


def _sort_value(index: int, fdef: FieldDef) -> Callable[[tuple[int, list[Any]]], Any]:
    return lambda item: Executor.norm(fdef, item[1][index])


def parse(soql: str) -> Query:
    return Parser(soql).parse()
