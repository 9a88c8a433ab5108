"""Microsoft Dynamics 365 / Dataverse Web API v9.2 stand-in: a real HTTPS server with SQLite state.

It speaks the slice of the Web API a migration loader touches — Entra ID client-credentials
tokens, entity-set CRUD with ``@odata.bind`` lookups and alternate-key upserts, OData
queries with paging, ``$batch`` with change sets, ``EntityDefinitions`` / ``RelationshipDefinitions``
metadata, the close actions and ``AddToQueue`` — with Dataverse's status codes, error bodies and
service-protection limits (see ``docs/dynamics-standin.md``).
"""

from __future__ import annotations

from sandbox.dynamics.app import build_app
from sandbox.dynamics.config import DynamicsStandinConfig
from sandbox.dynamics.store import snapshot

__all__ = ["DynamicsStandinConfig", "build_app", "snapshot"]
