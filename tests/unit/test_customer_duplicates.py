"""Customer duplicates by name and domain (``shared.canonical.customer_duplicates``).

GIVEN customers streamed once (a generator), some sharing a name and a domain, one pair of them parent and
child, some without a domain
WHEN the duplicates are grouped
THEN the oldest of each group survives, a group holding a parent and its child is left apart, customers
without a domain are never merged, and the rows come in group then id order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shared.canonical import customer_duplicates

CUSTOMERS: list[dict[str, Any]] = [
    {"id": "c3", "name": "Acme Ltd.", "website": "https://www.acme.io", "created_at": "2021-01-01"},
    {"id": "c1", "name": "ACME ltd", "website": "acme.io", "created_at": "2020-01-01"},
    {"id": "c2", "name": "Acme, Ltd", "email": "ops@acme.io", "created_at": "2022-01-01"},
    {"id": "b1", "name": "Bolt", "website": "bolt.example", "created_at": "2020-01-01"},
    {"id": "b2", "name": "Bolt", "website": "bolt.example", "created_at": "2019-01-01", "parent_id": "b1"},
    {"id": "j1", "name": "John Smith", "email": "john@gmail.com", "created_at": "2020-01-01"},
    {"id": "j2", "name": "John Smith", "email": "john.smith@gmail.com", "created_at": "2020-01-01"},
    {"id": "z1", "name": "Zed", "website": "zed.example", "created_at": "2020-01-01"},
]


def _once() -> Iterator[dict[str, Any]]:
    yield from CUSTOMERS


def test_groups_survivors_and_parents() -> None:
    found = customer_duplicates(_once())
    assert found["total"] == 8 and found["without_domain"] == 2  # the two free-mail John Smiths
    assert found["merged"] == {"c2": "c1", "c3": "c1"}
    assert [(r["duplicate_id"], r["survivor_id"], r["domain"], r["decision"]) for r in found["rows"]] == [
        ("c2", "c1", "acme.io", "merged"), ("c3", "c1", "acme.io", "merged"),
        ("b1", "b2", "bolt.example", "left apart: one is the other's parent")]
    assert found["rows"][0]["duplicate_name"] == "Acme, Ltd" and found["rows"][0]["survivor_name"] == "ACME ltd"


def test_no_customers() -> None:
    assert customer_duplicates(iter([])) == {"total": 0, "without_domain": 0, "merged": {}, "rows": []}
