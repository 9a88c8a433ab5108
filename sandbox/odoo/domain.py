"""Search domains and ``order`` clauses, checked and evaluated the way the ORM does.

A domain is Polish notation over leaves ``[field, operator, value]`` with implicit ``&``. Every
leaf is validated before anything runs: an unknown operator is ``Invalid leaf ...`` and an unknown
field ``Invalid field model.field in leaf ...`` (``ValueError`` -> fault 1), never ignored. The
``'|'``/``'!'`` semantics, ``!=`` matching NULLs, ``=?``, ``(=)like`` patterns, many2one matched by
id or by display name, x2many matched by any member, dotted paths and ``child_of``/``parent_of``
follow ``odoo/osv/expression.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sandbox.odoo.fields import X2MANY, FieldSpec, ModelSpec

OPERATORS = ("=", "!=", "<>", "<=", "<", ">", ">=", "=?", "=like", "=ilike", "like", "not like", "ilike",
             "not ilike", "in", "not in", "child_of", "parent_of", "any", "not any")
TRUE_LEAF = (1, "=", 1)
FALSE_LEAF = (0, "=", 1)
_ORDER_ITEM = re.compile(r"^\s*([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?)\s*(asc|desc)?\s*(nulls\s+(?:first|last))?\s*$",
                         re.IGNORECASE)


class Resolver(Protocol):
    """What evaluation needs from the ORM: schemas, related records, display names, hierarchies."""

    def spec(self, model: str) -> ModelSpec: ...
    def field_value(self, model: str, rec: dict[str, Any], name: str) -> Any: ...
    def related(self, model: str, ids: list[int]) -> list[dict[str, Any]]: ...
    def name_of(self, model: str, rec: dict[str, Any]) -> str: ...
    def hierarchy(self, model: str, ids: list[int], down: bool) -> set[int]: ...


Matcher = Callable[[dict[str, Any]], bool]


@dataclass
class Leaf:
    path: list[str]
    op: str
    value: Any
    raw: tuple[Any, ...]


def _leaf_text(raw: tuple[Any, ...]) -> str:
    return str(tuple(raw))


def normalize(domain: Any, version: int) -> list[Any]:
    """Prefix form with explicit ``&``; leaves as tuples; operators lower-cased; unknown ones refused."""
    if domain in (None, False):
        return []
    if not isinstance(domain, (list, tuple)):
        raise ValueError(f"Domain {domain!r} is syntactically not correct.")
    result: list[Any] = []
    expected = 1
    for term in domain:
        if expected == 0:
            result[0:0] = ["&"]
            expected = 1
        if isinstance(term, (list, tuple)):
            leaf = tuple(term)
            known = OPERATORS + (("==",) if version >= 19 else ())
            if len(leaf) != 3 or not isinstance(leaf[1], str) or leaf[1].lower() not in known:
                if version >= 19:  # odoo/orm/domains.py: Domain() parsing, DomainCondition.checked()
                    if len(leaf) == 3:
                        raise ValueError(f"Invalid operator in condition {leaf!r}")
                    raise ValueError(f"Domain() invalid item in domain: {term!r}")
                raise ValueError(f"Invalid leaf {_leaf_text(leaf)}")
            operator = leaf[1].lower()
            result.append((leaf[0], "=" if operator == "==" else operator, leaf[2]))
            expected -= 1
        elif term in ("&", "|"):
            result.append(term)
            expected += 1
        elif term == "!":
            result.append(term)
        else:
            raise ValueError(f"Invalid leaf {term!r}" if version < 19 else f"Domain() invalid item in domain: {term!r}")
    if expected != 0 and result:
        raise ValueError(f"Domain {list(domain)!r} is syntactically not correct.")
    return result


class DomainCompiler:
    """Turns a normalized domain into a matcher over stored records of one model."""

    def __init__(self, resolver: Resolver, version: int) -> None:
        self.r = resolver
        self.version = version

    def compile(self, model: str, domain: Any) -> Matcher:
        tokens = normalize(domain, self.version)
        if not tokens:
            return lambda rec: True
        stack: list[Matcher] = []
        for term in reversed(tokens):
            if term == "!":
                stack.append(_negate(stack.pop()))
            elif term in ("&", "|"):
                first, second = stack.pop(), stack.pop()
                stack.append(_both(first, second) if term == "&" else _either(first, second))
            else:
                stack.append(self._leaf(model, term))
        return stack[0] if len(stack) == 1 else (lambda rec: all(m(rec) for m in stack))

    def pushdown(self, model: str, domain: Any) -> list[tuple[str, Any]]:
        """``field = value`` pairs of an all-AND domain that SQL can pre-filter on (exact, same type only)."""
        tokens = normalize(domain, self.version)
        if any(t in ("|", "!") for t in tokens):
            return []
        spec = self.r.spec(model)
        out: list[tuple[str, Any]] = []
        for t in tokens:
            if not isinstance(t, tuple) or not isinstance(t[0], str) or t[0] not in spec.fields:
                continue
            fs = spec.fields[t[0]]
            if not fs.store or fs.type in X2MANY or fs.name == "id":
                continue
            want = str if fs.type in ("char", "selection", "text") else int if fs.type in (
                "integer", "many2one", "many2one_reference") else None
            value = t[2]
            if want is None:
                continue
            if t[1] == "=" and type(value) is want:
                out.append((fs.name, value))
            elif t[1] == "in" and isinstance(value, (list, tuple)) and value and all(type(v) is want for v in value):
                out.append((fs.name, list(value)))
        return out

    # -- leaves --------------------------------------------------------------------------------------------------
    def _field(self, model: str, name: str, raw: tuple[Any, ...]) -> FieldSpec:
        spec = self.r.spec(model)
        fs = spec.fields.get(name)
        if fs is None:
            word = "condition" if self.version >= 19 else "leaf"
            raise ValueError(f"Invalid field {model}.{name} in {word} {_leaf_text(raw)}")
        return fs

    @staticmethod
    def _unsearchable(fs: FieldSpec) -> bool:
        """A computed field without a search method: Odoo logs "Non-stored field … cannot be searched." and
        replaces the condition by TRUE (17: a dummy leaf; 19: ``_TRUE_DOMAIN``) -- the filter is dropped."""
        return not fs.store and fs.type not in X2MANY and fs.name != "display_name"

    def _leaf(self, model: str, leaf: tuple[Any, ...]) -> Matcher:
        left, op, value = leaf
        if leaf in (TRUE_LEAF, FALSE_LEAF) or (left in (0, 1) and op == "=" and value == 1):
            result = left == 1
            return lambda rec: result
        if not isinstance(left, str):
            raise ValueError(f"Invalid leaf {_leaf_text(leaf)}")
        op = "!=" if op == "<>" else op
        path = left.split(".")
        fs = self._field(model, path[0], leaf)
        if len(path) == 1 and self._unsearchable(fs):
            return lambda rec: True
        if op in ("any", "not any"):
            if fs.type not in ("many2one", *X2MANY):
                word = "condition" if self.version >= 19 else "leaf"
                raise ValueError(f"Cannot use 'any' with non-relational fields in {word} {_leaf_text(leaf)}")
            inner = self.compile(str(fs.relation), value)
            target = str(fs.relation)

            def some(rec: dict[str, Any]) -> bool:
                hit = any(inner(r) for r in self.r.related(target, self._ids(model, rec, fs)))
                return hit if op == "any" else not hit
            return some
        if len(path) > 1:
            if fs.type not in ("many2one", *X2MANY):
                raise ValueError(f"Invalid field {model}.{left} in leaf {_leaf_text(leaf)}")
            sub = self.compile(str(fs.relation), [(".".join(path[1:]), op, value)])
            relation = str(fs.relation)

            def through(rec: dict[str, Any]) -> bool:
                ids = self._ids(model, rec, fs)
                return any(sub(r) for r in self.r.related(relation, ids))
            return through
        if op in ("child_of", "parent_of"):
            ids = value if isinstance(value, (list, tuple)) else [value]
            target = str(fs.relation) if fs.type in ("many2one", *X2MANY) else model
            tree = self.r.hierarchy(target, [int(i) for i in ids if i], op == "child_of")
            return lambda rec: bool(set(self._ids(model, rec, fs)) & tree)
        if fs.name == "display_name":
            return lambda rec: _compare(self.r.name_of(model, rec), op, value)
        if fs.type in ("many2one", *X2MANY):
            return self._relational(model, fs, op, value)
        if fs.type in ("date", "datetime") and isinstance(value, str):
            value = value.replace("T", " ")[:19]  # PostgreSQL reads ISO 'T' timestamps; compare in Odoo's format
        return lambda rec: _compare(self.r.field_value(model, rec, fs.name), op, value)

    def _ids(self, model: str, rec: dict[str, Any], fs: FieldSpec) -> list[int]:
        if fs.name == "id":
            return [int(rec["id"])]
        v = self.r.field_value(model, rec, fs.name)
        if fs.type == "many2one":
            return [v] if v else []
        return list(v or [])

    def _relational(self, model: str, fs: FieldSpec, op: str, value: Any) -> Matcher:
        relation = str(fs.relation)
        by_name = isinstance(value, str) or (isinstance(value, (list, tuple)) and any(isinstance(v, str)
                                                                                       for v in value))
        negative = op in ("!=", "not in", "not like", "not ilike")
        positive_op = {"!=": "=", "not in": "in", "not like": "like", "not ilike": "ilike"}.get(op, op)

        def match(rec: dict[str, Any]) -> bool:
            ids = self._ids(model, rec, fs)
            if op == "=?" and not value:
                return True
            if by_name or positive_op in ("like", "ilike", "=like", "=ilike"):
                names = [self.r.name_of(relation, r) for r in self.r.related(relation, ids)]
                if value is False and positive_op in ("=", "in"):
                    hit = not ids
                else:
                    hit = any(_compare(n, positive_op, value) for n in names)
            elif value is False or value is None:
                hit = not ids if positive_op == "=" else False
            elif positive_op in ("=", "=?"):
                hit = int(value) in ids
            elif positive_op == "in":
                wanted = value if isinstance(value, (list, tuple)) else [value]
                hit = bool(set(ids) & {int(v) for v in wanted if v}) or (False in wanted and not ids)
            else:
                hit = any(_compare(i, positive_op, value) for i in ids)
            return not hit if negative else hit
        return match


def _negate(m: Matcher) -> Matcher:
    return lambda rec: not m(rec)


def _both(a: Matcher, b: Matcher) -> Matcher:
    return lambda rec: a(rec) and b(rec)


def _either(a: Matcher, b: Matcher) -> Matcher:
    return lambda rec: a(rec) or b(rec)


def _like(pattern: str, text: str, insensitive: bool) -> bool:
    """PostgreSQL ``LIKE``: ``%`` any run, ``_`` one character, ``\\`` (the default escape) makes the next
    character match itself."""
    parts: list[str] = []
    escaped = False
    for ch in pattern:
        if escaped:
            parts.append(re.escape(ch))
            escaped = False
        elif ch == "\\":
            escaped = True
        else:
            parts.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    if escaped:  # a trailing escape: PostgreSQL refuses the pattern ("LIKE pattern must not end with escape")
        raise ValueError("LIKE pattern must not end with escape character")
    regex = "".join(parts)
    return re.fullmatch(regex, text, re.IGNORECASE | re.DOTALL if insensitive else re.DOTALL) is not None


def _compare(actual: Any, op: str, value: Any) -> bool:
    if op == "=?":
        return True if value in (None, False) else _compare(actual, "=", value)
    if op in ("=", "!="):
        if value is False or value is None:
            hit = actual in (None, False)
        elif isinstance(actual, bool) or isinstance(value, bool):
            hit = bool(actual) == bool(value)
        else:
            hit = actual == value
        return hit if op == "=" else not hit
    if op in ("in", "not in"):
        wanted = list(value) if isinstance(value, (list, tuple)) else [value]
        hit = actual in wanted or (actual in (None, False) and False in wanted)
        return hit if op == "in" else not hit
    if op in ("like", "ilike", "not like", "not ilike", "=like", "=ilike"):
        if value is False or value is None:  # ('name', 'ilike', False) means "is not set"
            hit = actual in (None, False, "")
            return not hit if op.startswith("not") else hit
        text = "" if actual in (None, False) else str(actual)
        insensitive = "ilike" in op
        pattern = str(value) if op.startswith("=") else f"%{value}%"
        hit = actual not in (None, False) and _like(pattern, text, insensitive)
        return not hit if op.startswith("not") else hit
    if actual in (None, False) or value in (None, False):
        return False
    try:
        return bool({"<": actual < value, ">": actual > value, "<=": actual <= value, ">=": actual >= value}[op])
    except TypeError:
        return False


def parse_order(spec: ModelSpec, order: str | None) -> list[tuple[str, bool]]:
    """``[(field, descending)]``; any item that is not a stored field (or ``id``) is refused."""
    if not order:
        return []
    out: list[tuple[str, bool]] = []
    for item in order.split(","):
        m = _ORDER_ITEM.match(item)
        name = m.group(1).split(".")[0] if m else ""
        fs = spec.fields.get(name)
        if not m or fs is None or (not fs.store and name != "display_name") or fs.type in X2MANY:
            raise ValueError(
                f'Invalid "order" specified ({order}). A valid "order" specification is a comma-separated list of '
                "valid field names (optionally followed by asc/desc for the direction)")
        out.append((name, (m.group(2) or "asc").lower() == "desc"))
    return out


def default_order(spec: ModelSpec) -> list[tuple[str, bool]]:
    """The model's ``_order`` (names it does not carry here are skipped), then ``id``."""
    out = []
    for item in spec.order.split(","):
        parts = item.split()
        if parts and parts[0] in spec.fields:
            out.append((parts[0], len(parts) > 1 and parts[1].lower() == "desc"))
    return out
