"""A scratch SQLite file for questions asked across a whole tenant (duplicates, orphans, groups).

Discovery and the pre-scan page through every record of an object; what they must compare across pages
goes here, on disk, not into a dict that grows with the tenant. The file lives in a temporary folder
that is removed when the block ends.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path


@contextmanager
def scratch_db(schema: str, *, prefix: str, folder: Path | None = None) -> Iterator[sqlite3.Connection]:
    """A fresh SQLite file holding ``schema`` (no journal: it is thrown away, never recovered)."""
    with tempfile.TemporaryDirectory(prefix=prefix, dir=folder) as tmp, \
            closing(sqlite3.connect(Path(tmp) / "scratch.sqlite", isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.executescript(schema)
        yield db
