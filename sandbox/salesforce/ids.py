"""Salesforce record ids: 3-char key prefix + 12-char body + 3-char case-safe checksum.

The checksum lets clients compare ids case-insensitively; loaders that shorten or
re-case ids break on it, so the stand-in computes the real algorithm and rejects
18-char ids whose suffix does not match (``MALFORMED_ID``).
"""

from __future__ import annotations

import re
from functools import lru_cache

_SUFFIX_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")
POD = "5g0"  # instance (2 chars) + reserved (1 char)


@lru_cache(maxsize=131_072)
def checksum(id15: str) -> str:
    """The three suffix characters encoding which of the 15 characters are upper case."""
    out = []
    for i in range(3):
        chunk = id15[i * 5 : i * 5 + 5]
        bits = sum(1 << j for j, c in enumerate(chunk) if "A" <= c <= "Z")
        out.append(_SUFFIX_CHARS[bits])
    return "".join(out)


def to18(id15: str) -> str:
    return id15 + checksum(id15)


def base62(n: int, width: int) -> str:
    digits = []
    while n:
        n, r = divmod(n, 62)
        digits.append(_BASE62[r])
    return "".join(reversed(digits)).rjust(width, "0")


def make_id(prefix: str, counter: int) -> str:
    """An 18-char id for the ``counter``-th record with ``prefix``."""
    return to18(prefix + POD + base62(counter, 9))


def normalize_id(value: str) -> str | None:
    """Return the 18-char form of ``value`` or None if it is not a well-formed id."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        return None
    if len(value) == 15:
        return to18(value)
    if checksum(value[:15]).upper() != value[15:].upper():
        return None
    return value[:15] + checksum(value[:15])
