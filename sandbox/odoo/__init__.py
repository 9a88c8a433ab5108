"""Odoo 17 / 18 / 19 stand-in: a real HTTPS server with SQLite state.

It speaks what a migration loader touches — ``/xmlrpc/2`` (``common``, ``object``, ``db``),
``/jsonrpc``, and on 19 the JSON-2 API (``/json/2/<model>/<method>`` with bearer API keys) —
over an ORM with Odoo's semantics (``False`` for empty, many2one as ``[id, name]``, x2many
commands, log-access fields stripped, custom ``x_`` models and fields, external ids, chatter
notes, attachments) and Odoo's fault codes and error bodies (see ``docs/odoo-standin.md``).
"""

from __future__ import annotations

from sandbox.odoo.app import build_app
from sandbox.odoo.config import OdooStandinConfig

__all__ = ["OdooStandinConfig", "build_app"]
