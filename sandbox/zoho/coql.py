"""COQL: ``select f1, f2 from Module [where …] [order by f [asc|desc], …] [limit n [offset m] | limit m, n]``.

A hand-written recursive-descent parser for the subset a migration tool uses: field lists,
comparison operators (``= != <> > < >= <=``), ``like``/``not like``, ``in``/``not in``,
``between … and …``, ``is [not] null``, ``and``/``or`` and parentheses. Anything else
(``*``, aggregates, ``group by``, aliases, lookup dot-paths, joins) is refused with Zoho's
``SYNTAX_ERROR`` body naming where the parser stopped — never ignored, so a query never
silently returns more rows than it asked for.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.zoho.errors import ZohoError

TOKEN_RE = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op><>|!=|>=|<=|=|>|<|\(|\)|,|;|\*)"
    r"|(?P<word>[A-Za-z_$][A-Za-z0-9_$.]*))"
)
KEYWORDS = {"select", "from", "where", "and", "or", "not", "like", "in", "is", "null", "between", "order", "by",
            "asc", "desc", "limit", "offset", "true", "false", "group", "having", "as"}


@dataclass
class Token:
    kind: str
    text: str
    column: int

    @property
    def low(self) -> str:
        return self.text.lower()


Predicate = Callable[[dict[str, Any]], bool]


@dataclass
class Query:
    fields: list[str]
    module: str
    where: Predicate | None
    where_fields: list[str]
    order: list[tuple[str, bool]]  # (field, descending)
    limit: int
    offset: int
    limit_given: bool


def syntax_error(token: Token | None, query: str) -> ZohoError:
    near = token.text if token else query.strip().split()[-1] if query.strip() else ""
    column = token.column if token else len(query)
    return ZohoError("SYNTAX_ERROR", "invalid query formed", {"near": near, "line": 1, "column": column})


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(query):
        if query[pos:].strip() == "":
            break
        match = TOKEN_RE.match(query, pos)
        if not match:
            raise ZohoError("SYNTAX_ERROR", "invalid query formed",
                            {"near": query[pos:pos + 10].strip(), "line": 1, "column": pos + 1})
        kind = match.lastgroup or "word"
        tokens.append(Token(kind, match.group(kind), match.start(kind) + 1))
        pos = match.end()
    return tokens


def _like(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(pattern).replace("%", ".*").replace("_", ".") + "$", re.IGNORECASE | re.S)


def comparable(value: Any) -> Any:
    """Lookups compare by id, pick-lists and text case-insensitively (as COQL does for strings)."""
    if isinstance(value, dict):
        return str(value.get("id", "")).lower()
    if isinstance(value, str):
        return value.lower()
    return value


class Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.pos = 0
        self.where_fields: list[str] = []

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise syntax_error(None, self.query)
        self.pos += 1
        return token

    def expect(self, word: str) -> Token:
        token = self.take()
        if token.low != word:
            raise syntax_error(token, self.query)
        return token

    def accept(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.low == word:
            self.pos += 1
            return True
        return False

    def ident(self) -> str:
        token = self.take()
        if token.kind != "word" or token.low in KEYWORDS or "." in token.text:
            raise syntax_error(token, self.query)
        nxt = self.peek()
        if nxt is not None and nxt.text == "(":  # aggregate / function call
            raise syntax_error(nxt, self.query)
        return token.text

    def value(self) -> Any:
        token = self.take()
        if token.kind == "str":
            return token.text[1:-1].replace("''", "'").replace("\\'", "'")
        if token.kind == "num":
            return float(token.text) if "." in token.text else int(token.text)
        if token.low in ("true", "false"):
            return token.low == "true"
        raise syntax_error(token, self.query)

    def parse(self) -> Query:
        self.expect("select")
        fields = [self.ident()]
        while self.accept(","):
            fields.append(self.ident())
        self.expect("from")
        module = self.ident()
        where = self.condition() if self.accept("where") else None
        order: list[tuple[str, bool]] = []
        if self.accept("order"):
            self.expect("by")
            while True:
                name = self.ident()
                desc = self.accept("desc")
                if not desc:
                    self.accept("asc")
                order.append((name, desc))
                if not self.accept(","):
                    break
        limit, offset, given = 200, 0, False
        if self.accept("limit"):
            given = True
            first = self.number()
            if self.accept(","):
                offset, limit = first, self.number()
            else:
                limit = first
                if self.accept("offset"):
                    offset = self.number()
        self.accept(";")
        if self.peek() is not None:
            raise syntax_error(self.peek(), self.query)
        return Query(fields, module, where, self.where_fields, order, limit, offset, given)

    def number(self) -> int:
        token = self.take()
        if token.kind != "num" or "." in token.text or token.text.startswith("-"):
            raise syntax_error(token, self.query)
        return int(token.text)

    # -- where ------------------------------------------------------------------------------------------------
    def condition(self) -> Predicate:
        left = self.conjunction()
        while self.accept("or"):
            right = self.conjunction()
            left = _either(left, right)
        return left

    def conjunction(self) -> Predicate:
        left = self.comparison()
        while self.accept("and"):
            right = self.comparison()
            left = _both(left, right)
        return left

    def comparison(self) -> Predicate:
        if self.accept("("):
            inner = self.condition()
            self.expect(")")
            return inner
        name = self.ident()
        self.where_fields.append(name)
        token = self.take()
        op = token.low
        if op == "is":
            negate = self.accept("not")
            self.expect("null")
            return lambda r: (r.get(name) in (None, "", [])) != negate
        negate = False
        if op == "not":
            negate, op = True, self.take().low
            if op not in ("like", "in"):
                raise syntax_error(token, self.query)
        if op == "between":
            low = self.value()
            self.expect("and")
            high = self.value()
            return lambda r: r.get(name) is not None and comparable(low) <= comparable(r.get(name)) <= comparable(high)
        if op == "in":
            self.expect("(")
            values = [comparable(self.value())]
            while self.accept(","):
                values.append(comparable(self.value()))
            self.expect(")")
            return lambda r: (comparable(r.get(name)) in values) != negate
        if op == "like":
            pattern = self.value()
            if not isinstance(pattern, str):
                raise syntax_error(token, self.query)
            rx = _like(pattern)
            return lambda r: (isinstance(r.get(name), str) and bool(rx.match(str(r.get(name))))) != negate
        if op not in ("=", "!=", "<>", ">", "<", ">=", "<="):
            raise syntax_error(token, self.query)
        right = comparable(self.value())
        return _compare(name, op, right)


def _either(a: Predicate, b: Predicate) -> Predicate:
    return lambda r: a(r) or b(r)


def _both(a: Predicate, b: Predicate) -> Predicate:
    return lambda r: a(r) and b(r)


def _compare(name: str, op: str, right: Any) -> Predicate:
    def check(record: dict[str, Any]) -> bool:
        left = comparable(record.get(name))
        if op in ("=",):
            return bool(left == right)
        if op in ("!=", "<>"):
            return bool(left != right)
        if left is None:
            return False
        try:
            return bool({">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}[op])
        except TypeError:
            return False

    return check


def parse(query: str) -> Query:
    if not isinstance(query, str) or not query.strip():
        raise ZohoError("REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
                        {"param": "select_query"})
    return Parser(query).parse()
