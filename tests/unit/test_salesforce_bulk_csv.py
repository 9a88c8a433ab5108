"""Unit: the Salesforce Bulk job's CSV in and out, a row at a time.

GIVEN records holding quoted newlines, commas, booleans, nulls and non-ASCII text
WHEN they are spooled as the job's upload, and a results body arrives in chunks cut anywhere (inside a quoted
field, inside a multi-byte character)
THEN the spool holds exactly the CSV text as UTF-8 (spilling to disk past its limit), and the rows come back
whole with only the columns asked for.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from shared.connectors.salesforce import client
from shared.connectors.salesforce.client import BULK_NULL, _csv_rows, _csv_spool, _to_csv

RECORDS = [{"Name": 'Acme, "the" best', "Note__c": "line one\nline two", "Active__c": True, "Phone": None},
           {"Name": "Zoë Øresund", "Active__c": False, "Sercom_Id__c": "customers:c2"}]


def test_the_spool_is_the_csv_as_utf8(monkeypatch: pytest.MonkeyPatch) -> None:
    with _csv_spool(RECORDS, BULK_NULL) as spool:
        assert spool.read().decode("utf-8") == _to_csv(RECORDS, BULK_NULL)
    monkeypatch.setattr(client, "SPOOL_BYTES", 16)
    with _csv_spool(RECORDS * 50) as spool:
        assert spool._rolled  # type: ignore[attr-defined]  # past the limit: on disk, not in memory
        assert spool.read().decode("utf-8") == _to_csv(RECORDS * 50)


class _Body(requests.Response):
    """A response whose body arrives in the given byte chunks."""

    def __init__(self, chunks: list[bytes]) -> None:
        super().__init__()
        self.status_code = 200
        self._chunks = chunks
        self.closed_by_reader = False

    def iter_content(self, chunk_size: int | None = 1, decode_unicode: bool = False) -> Iterator[bytes]:
        yield from self._chunks

    def close(self) -> None:
        self.closed_by_reader = True


def test_result_rows_survive_any_chunking() -> None:
    text = 'sf__Id,sf__Created,Name,Note__c\n001A,true,"Acme, ""the"" best","line one\nline two"\n001B,false,Zoë,\n'
    data = text.encode("utf-8")
    want = [{"sf__Id": "001A", "sf__Created": "true", "Name": 'Acme, "the" best'},
            {"sf__Id": "001B", "sf__Created": "false", "Name": "Zoë"}]
    for cut in range(1, len(data)):
        body = _Body([data[:cut], data[cut:]])
        assert list(_csv_rows(body, ["sf__Id", "sf__Created", "Name", "Absent"])) == want, cut
        assert body.closed_by_reader
    assert list(_csv_rows(_Body([]), ["sf__Id"])) == []  # no failed rows: an empty body
