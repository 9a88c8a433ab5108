"""Salesforce Sales Cloud stand-in: a real HTTPS server with SQLite state.

It speaks the slice of the REST, sObject Collections, Query, Tooling and Bulk API 2.0
surface that a migration loader touches, with Salesforce's envelopes, error codes and
limits (see ``docs/salesforce-standin.md``), so the loader can be driven unmodified
through ``simple-salesforce``.
"""

from __future__ import annotations

from sandbox.salesforce.app import build_app
from sandbox.salesforce.config import SalesforceStandinConfig
from sandbox.salesforce.store import snapshot

__all__ = ["SalesforceStandinConfig", "build_app", "snapshot"]
