"""The supported ``$filter`` / ``$orderby`` subset, compiled to Python predicates over documents.

Grammar: ``eq ne gt ge lt le``, ``and or not``, parentheses, literals (``'…'`` with ``''``
escapes, numbers, GUIDs, ``true/false/null``, bare ISO dates), ``startswith/endswith/contains``
and the Dataverse query functions ``Microsoft.Dynamics.CRM.In/NotIn/Null/NotNull``. String
comparisons are case-insensitive (Dataverse's SQL collation). Anything else is a 400 naming
what is not supported. The same compiler filters records and ``EntityDefinitions``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.dynamics.errors import DataverseError
from sandbox.dynamics.values import DateLiteral, parse_datetime, parse_literal

Getter = Callable[[dict[str, Any]], Any]
Predicate = Callable[[dict[str, Any]], bool]
# kind: "str" | "num" | "bool" | "guid" | "date" | "dateonly" | "any"
Resolver = Callable[[str], tuple[Getter, str]]

TOKEN_RE = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<punct>[()\[\],=])|(?P<word>[^\s()\[\],=']+))")
COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}
STRING_FUNCS = {"startswith", "endswith", "contains"}
CRM_FUNCS = {"in", "notin", "null", "notnull"}
EDM = {"str": "Edm.String", "num": "Edm.Int32", "bool": "Edm.Boolean", "guid": "Edm.Guid", "date": "Edm.DateTimeOffset",
       "dateonly": "Edm.Date", "any": "Edm.String"}
OP_NAMES = {"eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan", "ge": "GreaterThanOrEqual", "lt": "LessThan",
            "le": "LessThanOrEqual"}


def query_error(message: str) -> DataverseError:
    return DataverseError(400, "0x80060888", message)


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = TOKEN_RE.match(text, pos)
        if match is None or match.end() == pos:
            raise query_error(f"Syntax error at position {pos} in '{text}'.")
        out.append(match.group("str") or match.group("punct") or match.group("word"))
        pos = match.end()
    return out


@dataclass
class _Parser:
    tokens: list[str]
    resolve: Resolver
    text: str
    pos: int = 0
    aliases: dict[str, str] | None = None

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok.lower() != expected.lower()):
            raise query_error(f"Syntax error: expected {expected or 'more input'} in '{self.text}'.")
        self.pos += 1
        return tok

    def literal(self) -> Any:
        """A literal token: a parameter alias (``@p1``) is replaced by its value, and an enum literal
        ``Namespace.Type'Member'`` (two tokens) reads as its member name."""
        tok = self.take()
        if tok.startswith("@"):
            value = (self.aliases or {}).get(tok)
            if value is None:
                raise query_error(f"The parameter alias '{tok}' is used in the query but no value is given for it.")
            tok = value.strip()
        nxt = self.peek()
        if "." in tok and not tok[0].isdigit() and nxt is not None and nxt.startswith("'"):
            self.take()
            return parse_literal(nxt)
        return parse_literal(tok)

    def parse(self) -> Predicate:
        pred = self.or_()
        if self.peek() is not None:
            raise query_error(f"Syntax error at '{self.peek()}' in '{self.text}'.")
        return pred

    def or_(self) -> Predicate:
        preds = [self.and_()]
        while (self.peek() or "").lower() == "or":
            self.take()
            preds.append(self.and_())
        return preds[0] if len(preds) == 1 else (lambda d: any(p(d) for p in preds))

    def and_(self) -> Predicate:
        preds = [self.not_()]
        while (self.peek() or "").lower() == "and":
            self.take()
            preds.append(self.not_())
        return preds[0] if len(preds) == 1 else (lambda d: all(p(d) for p in preds))

    def not_(self) -> Predicate:
        if (self.peek() or "").lower() == "not":
            self.take()
            inner = self.not_()
            return lambda d: not inner(d)
        return self.atom()

    def atom(self) -> Predicate:
        tok = self.peek()
        if tok == "(":
            self.take()
            inner = self.or_()
            self.take(")")
            return inner
        if tok is None:
            raise query_error(f"Syntax error: unexpected end of '{self.text}'.")
        nxt = self.tokens[self.pos + 1] if self.pos + 1 < len(self.tokens) else None
        if nxt == "(":
            return self.function()
        return self.comparison()

    def function(self) -> Predicate:
        name = self.take()
        lowered = name.lower()
        self.take("(")
        if lowered in STRING_FUNCS:
            getter, kind = self.property(self.take())
            self.take(",")
            literal = self.literal()
            self.take(")")
            if kind != "str" or not isinstance(literal, str):
                raise query_error(f"The function '{name}' needs a string column and a string literal.")
            needle = literal.casefold()
            ops: dict[str, Callable[[str], bool]] = {
                "startswith": lambda v: v.startswith(needle),
                "endswith": lambda v: v.endswith(needle),
                "contains": lambda v: needle in v,
            }
            check = ops[lowered]
            return lambda d: isinstance(v := getter(d), str) and check(v.casefold())
        short = lowered.removeprefix("microsoft.dynamics.crm.")
        if not lowered.startswith("microsoft.dynamics.crm."):
            raise query_error(f"An unknown function with name '{name}' was found. This may also be a function import "
                              "or a key lookup on a navigation property, which is not allowed.")
        if short not in CRM_FUNCS:
            raise query_error(f"The query function '{name}' is not supported by the stand-in's $filter (supported: "
                              "In, NotIn, Null, NotNull).")
        args = self.named_args()
        prop = args.get("PropertyName")
        if not isinstance(prop, str):
            raise query_error(f"{name} needs PropertyName.")
        getter, kind = self.property(prop)
        if short in ("null", "notnull"):
            want_null = short == "null"
            return lambda d: (getter(d) is None) == want_null
        values = args.get("PropertyValues")
        if not isinstance(values, list) or not values:
            raise query_error(f"{name} needs a non-empty PropertyValues list.")
        wanted = {_norm(_literal_for(v, kind, prop), kind) for v in values}
        negate = short == "notin"
        return lambda d: (_norm(getter(d), kind) in wanted) != negate

    def named_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {}
        while self.peek() != ")":
            key = self.take()
            self.take("=")
            if self.peek() == "[":
                self.take()
                items: list[Any] = []
                while self.peek() != "]":
                    items.append(self.literal())
                    if self.peek() == ",":
                        self.take()
                self.take("]")
                args[key] = items
            else:
                args[key] = self.literal()
            if self.peek() == ",":
                self.take()
        self.take(")")
        return args

    def property(self, name: str) -> tuple[Getter, str]:
        return self.resolve(name)

    def comparison(self) -> Predicate:
        left = self.take()
        op = self.take().lower()
        if op not in COMPARE:
            raise query_error(f"The operator '{op}' is not supported by the stand-in's $filter (use eq, ne, gt, ge, "
                              "lt, le, and, or, not).")
        right = self.peek() or ""
        getter, kind = self.property(left)
        try:
            literal = self.literal()
        except ValueError as exc:
            raise query_error(f"'{right}' is not a literal; comparing two properties is not supported.") from exc
        value = _literal_for(literal, kind, left, op)
        target = _norm(value, kind)
        if op in ("eq", "ne"):
            equal = op == "eq"
            return lambda d: (_norm(getter(d), kind) == target) == equal
        if target is None:
            return lambda d: False
        cmp: dict[str, Callable[[Any, Any], bool]] = {
            "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b, "lt": lambda a, b: a < b, "le": lambda a, b: a <= b,
        }
        fn = cmp[op]

        def check(doc: dict[str, Any]) -> bool:
            current = _norm(getter(doc), kind)
            try:
                return current is not None and fn(current, target)
            except TypeError:
                return False

        return check


def _literal_for(literal: Any, kind: str, prop: str, op: str = "eq") -> Any:
    """Type-check a literal against the column kind (Dataverse's 'incompatible types' error)."""
    if literal is None:
        return None
    if kind in ("date", "dateonly"):
        try:
            return parse_datetime(str(literal), kind == "dateonly")
        except ValueError as exc:
            raise query_error(f"'{literal}' is not a valid date for '{prop}'.") from exc
    found = ("str" if isinstance(literal, str) and not isinstance(literal, DateLiteral) else
             "bool" if isinstance(literal, bool) else "num" if isinstance(literal, int | float) else "date")
    if kind == "guid" and isinstance(literal, str):
        return literal.lower()
    if (kind in ("str", "any") and found == "str") or kind == found:
        return literal
    raise query_error(
        f"A binary operator with incompatible types was detected. Found operand types '{EDM.get(kind, kind)}' and "
        f"'{EDM.get(found, found)}' for operator kind '{OP_NAMES.get(op, op)}'."
    )


def _norm(value: Any, kind: str) -> Any:
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, str) and kind in ("str", "guid", "any"):
        return value.casefold()
    if isinstance(value, bool) and kind == "num":
        return int(value)
    return value


def compile_filter(text: str, resolve: Resolver, aliases: dict[str, str] | None = None) -> Predicate:
    """``$filter`` text -> predicate; ``aliases`` are the request's ``@name`` parameter aliases."""
    return _Parser(_tokens(text), resolve, text, aliases=aliases).parse()


def compile_orderby(text: str, resolve: Resolver) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    """``a asc, b desc`` -> a stable multi-key sort (NULLs first ascending, as SQL Server sorts)."""
    specs: list[tuple[Getter, str, bool]] = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise query_error(f"Invalid $orderby clause '{part.strip()}'.")
        getter, kind = resolve(words[0])
        specs.append((getter, kind, len(words) == 2 and words[1].lower() == "desc"))

    def sort(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = list(rows)
        for getter, kind, desc in reversed(specs):
            present = [r for r in out if _norm(getter(r), kind) is not None]
            missing = [r for r in out if _norm(getter(r), kind) is None]
            present.sort(key=lambda r, g=getter, k=kind: _norm(g(r), k), reverse=desc)  # type: ignore[misc]
            out = present + missing if desc else missing + present
        return out

    return sort
