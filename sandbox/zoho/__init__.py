"""Zoho CRM API v8 stand-in: a real HTTPS server with SQLite state.

It speaks the slice of Zoho CRM a migration loader touches — the accounts host's refresh-token
grant (returning ``api_domain``), record insert/update/upsert/delete with per-record codes in
207 bodies, reads with ``fields`` and ``page_token``, COQL, ``settings/fields|modules|pipeline``,
users, lead conversion, notes, attachments, contact roles and the Bulk Write API — and meters
it the way Zoho bills it: a rolling 24 h credit ledger per edition plus a concurrency limit
(see ``docs/zoho-standin.md``).
"""

from __future__ import annotations

from sandbox.zoho.app import build_app
from sandbox.zoho.config import ZohoStandinConfig
from sandbox.zoho.store import snapshot

__all__ = ["ZohoStandinConfig", "build_app", "snapshot"]
