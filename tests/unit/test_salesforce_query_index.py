"""Unit: SOQL answered through the Id / external-id indexes equals SOQL answered by reading every record.

In-process, against an org file with 3,000 Accounts carrying a case-insensitive text external id, a
case-sensitive one and a number one (some created before the fields existed, so built by the
field's reindex; some updated, soft-deleted or hard-deleted since): each query is run with
``query_api.USE_INDEX`` on and off and every page, ``totalSize`` and ``done`` compared (unordered
results come in record order both ways), for query and queryAll, LIMIT/OFFSET, ORDER BY, COUNT(),
small batch sizes and a page asked out of sequence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sandbox.salesforce import query_api
from sandbox.salesforce.config import SalesforceStandinConfig
from sandbox.salesforce.org import Org, create_org

ROWS = 3_000
#: Values whose case folding differs from ``str.lower`` (the ``record_keys`` form) or from ASCII folding.
ODD = ["Straße", "STRASSE", "ﬁsh", "FISH", "ΣΊΣΥΦΟΣ", "σίσυφος", "Ǆemal", "ǅEMAL"]


def _ext(i: int) -> str | None:
    if i % 17 == 0:
        return None
    if i % 50 == 1:
        return ODD[(i // 50) % len(ODD)]
    return f"K-{i:05d}" if i % 3 else f"k-{i:05d}"


def _insert(org: Org, i: int) -> str:
    objdef = org.schema.get("Account")
    assert objdef is not None
    rid = org.store.new_id("001")
    doc: dict[str, Any] = {"Id": rid, "IsDeleted": False, "Name": f"Acct {i % 400}"}
    if objdef.field("Ext__c") is not None:
        doc.update({"Ext__c": _ext(i), "Code__c": f"C{i % 5}-{i}", "Num__c": float(i % 700) if i % 11 else None})
    keys = [(f.name, f.key_of(doc[f.name])) for f in objdef.keyed if doc.get(f.name) is not None]
    org.store.insert_record("Account", rid, doc, keys)
    return rid


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Org:
    path = Path(tmp_path_factory.mktemp("sfindex")) / "org.sqlite"
    create_org(path)
    org = Org(path, SalesforceStandinConfig())
    ids: list[str] = []
    with org.store.tx():
        ids += [_insert(org, i) for i in range(ROWS // 3)]  # before the fields: the field's reindex covers them
    org.add_custom_field("Account.Ext__c", {"type": "Text", "label": "Ext", "length": 40, "externalId": True})
    org.add_custom_field(
        "Account.Code__c", {"type": "Text", "label": "Code", "length": 40, "externalId": True, "caseSensitive": True}
    )
    org.add_custom_field(
        "Account.Num__c", {"type": "Number", "label": "Num", "precision": 10, "scale": 0, "externalId": True}
    )
    objdef = org.schema.get("Account")
    assert objdef is not None
    with org.store.tx():
        ids += [_insert(org, i) for i in range(ROWS // 3, ROWS)]
        for n, rid in enumerate(ids):
            got = org.store.get_record(rid)
            assert got is not None
            doc = got[1]
            if n % 7 == 2:  # an update changing the keys
                doc.update({"Ext__c": _ext(n + 1), "Code__c": f"c{n % 5}-{n}", "Num__c": float(n % 13)})
                keys = {f.name: (f.key_of(doc[f.name]) if doc.get(f.name) is not None else None) for f in objdef.keyed}
                org.store.update_record("Account", rid, doc, keys)
            if n % 9 == 4:
                org.store.delete_record(rid, {**doc, "IsDeleted": True}, hard=n % 27 == 4)
    return org


def _run(org: Org, text: str, size: int, deleted: bool, *, jump: bool) -> list[Any]:
    """Every page (records, totalSize, done) as a client asks for them; ``jump`` re-reads the second page
    from a fresh offset, as a retried or out-of-sequence call does."""
    state, total, records = query_api.open_query(org, text, deleted, "60.0", size)
    pages: list[Any] = [(total, records)]
    offset = len(records)
    while state is not None and offset < state.total:
        page, end, ran_out = query_api.read_page(org, state, offset, size)
        pages.append((page, end, ran_out))
        if jump and len(pages) == 2 and offset > 1:
            pages.append(query_api.read_page(org, state, offset - 1, size))
        offset = end
    return pages


def _both(org: Org, text: str, size: int, deleted: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    monkeypatch.setattr(query_api, "USE_INDEX", False)
    scanned = _run(org, text, size, deleted, jump=True)
    monkeypatch.setattr(query_api, "USE_INDEX", True)
    return scanned, _run(org, text, size, deleted, jump=True)


def _ids(org: Org, step: int, deleted: bool = True) -> str:
    rows = [r for part in org.store.scan("Account", deleted) for _, r in part]
    return ", ".join(f"'{r['Id']}'" for r in rows[::step])


EXTS = ", ".join(f"'{v}'" for v in ["k-00005", "K-00004", "K-00300", "k-02999", "missing", *ODD, "ss", "FI"])
QUERIES = [
    f"SELECT Id, Ext__c, Name FROM Account WHERE Ext__c IN ({EXTS})",
    "SELECT Id, Ext__c FROM Account WHERE Ext__c = 'strasse'",
    "SELECT Id, Ext__c FROM Account WHERE Ext__c = 'K-01000' AND Name != 'x'",
    f"SELECT Id, Ext__c FROM Account WHERE Ext__c IN ({EXTS}) AND (Name LIKE 'Acct 1%' OR Num__c > 5)",
    f"SELECT Id FROM Account WHERE Ext__c IN ({EXTS}) OR Name = 'Acct 3'",  # not a top-level AND: a scan
    "SELECT Id, Code__c FROM Account WHERE Code__c IN ('C1-1', 'c1-1', 'C2-2002', 'c3-3', 'C4-0004')",
    "SELECT Id, Num__c FROM Account WHERE Num__c IN (5, 7.0, 12, 699, 1000)",
    "SELECT Id, Num__c FROM Account WHERE Num__c = 3 ORDER BY Name DESC, Id LIMIT 20 OFFSET 2",
    "SELECT Id FROM Account WHERE Ext__c IN ('K-00001', null)",
    "SELECT Id FROM Account WHERE Ext__c != null AND Num__c IN (1, 2, 3) LIMIT 30 OFFSET 4",
    "SELECT COUNT() FROM Account WHERE Num__c IN (1, 2, 3)",
    "SELECT COUNT(Ext__c) FROM Account WHERE Num__c IN (4, 5) AND Ext__c LIKE 'k%'",
]


@pytest.mark.parametrize("deleted", [False, True])
@pytest.mark.parametrize("size", [200, 2000])
@pytest.mark.parametrize("text", QUERIES)
def test_indexed_queries_page_exactly_as_scanned_ones(
    org: Org, text: str, size: int, deleted: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    scanned, indexed = _both(org, text, size, deleted, monkeypatch)
    assert indexed == scanned


@pytest.mark.parametrize("deleted", [False, True])
def test_id_filters_page_exactly_as_scanned_ones(org: Org, deleted: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    many = _ids(org, 3)
    for text in (
        f"SELECT Id, Name, Ext__c FROM Account WHERE Id IN ({many})",
        f"SELECT Id FROM Account WHERE Id IN ({many}) AND Ext__c IN ({EXTS})",
        f"SELECT Id, Name FROM Account WHERE Id IN ({many}) ORDER BY Name LIMIT 700 OFFSET 5",
        f"SELECT Id FROM Account WHERE Id = {_ids(org, 2999)[:20]}",
        f"SELECT Id FROM Account WHERE Id IN ({_ids(org, 500).replace('001', '003')})",
        f"SELECT Id FROM Contact WHERE Id IN ({_ids(org, 300)})",
    ):
        scanned, indexed = _both(org, text, 200, deleted, monkeypatch)
        assert indexed == scanned, text
    assert len(scanned[0][1]) == 0  # a Contact query never finds an Account's id


def test_the_index_reads_only_the_candidates(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    scan_seqs = org.store.scan_seqs

    def counting(*args: Any, **kwargs: Any) -> Any:
        for chunk in scan_seqs(*args, **kwargs):
            seen.append(len(chunk))
            yield chunk

    monkeypatch.setattr(org.store, "scan", lambda *a, **k: pytest.fail("scanned"))
    monkeypatch.setattr(org.store, "scan_seqs", counting)
    _, total, _ = query_api.open_query(org, f"SELECT Id FROM Account WHERE Ext__c IN ({EXTS})", True, "60.0", 2000)
    assert 0 < total <= sum(seen) < 60
