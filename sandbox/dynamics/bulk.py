"""``CreateMultiple`` / ``UpdateMultiple`` / ``UpsertMultiple``: the bound bulk actions on an entity set.

As Microsoft documents them ("Use bulk operation messages", the ``UpsertMultiple`` action page):

* ``POST /{set}/Microsoft.Dynamics.CRM.<Action>`` with ``{"Targets": [{"@odata.type":
  "Microsoft.Dynamics.CRM.<logicalname>", …}, …]}``; every item must carry ``@odata.type`` and all
  items are of the entity set's table.
* Standard tables are all-or-nothing: the whole request is one transaction, and the first failing
  record fails the request with that record's error (nothing is written).
* ``CreateMultiple`` → 200 ``{"@odata.context": …CreateMultipleResponse, "Ids": [...]}`` (client-supplied
  primary keys are kept); ``UpdateMultiple`` → 204 (each item names its record by primary key;
  a missing one → 404 "<table> With Ids = <id> Do Not Exist", the documented message);
  ``UpsertMultiple`` → 204, each item addressed by ``@odata.id`` (``set(key='v')`` or ``set(<guid>)``,
  a **relative** URL as in Microsoft's example), by its primary key, or by the values of an alternate
  key in the body; an item naming no record is created. Lookups bind with ``nav@odata.bind`` as in a
  single create or update (microsoft/PowerPlatform-DataverseClient-Python#137 fixed the casing of
  such binds in its UpsertMultiple targets).
* What Dataverse refuses in UpsertMultiple targets, as clients found out: an absolute ``@odata.id``
  (the server expects a relative URI: an OData payload error, AleksandrRogov/DynamicsWebApi#195;
  the rest of the wording is the stand-in's), and an alternate-key column sent in the body as well
  as in ``@odata.id`` when the record does not exist yet (400 ``0x80040216`` "An unexpected error
  occurred."; the update path tolerates it — microsoft/PowerPlatform-DataverseClient-Python#127).
* One request for the service-protection limits however many Targets (the front door counts it).
* "There's no set limit on the number of records" for standard tables — what fails is the message
  size and the time a large request takes. ``bulk_max_targets`` (0 = no limit, the default) makes a
  request with more Targets fail the way an over-long one does (the documented SQL-timeout error;
  its HTTP status is UNCONFIRMED). ``bulk_unsupported_tables`` lists tables that do not support the
  messages ("Not all standard tables support these messages"; which ones is UNCONFIRMED) and answer
  with the platform's "MessageProcessorCache returned MessageProcessor.Empty" error.
"""

from __future__ import annotations

from typing import Any

from sandbox.dynamics.config import DATA_PREFIX
from sandbox.dynamics.errors import (
    INVALID_ARGUMENT,
    NOT_FOUND,
    PAYLOAD_ERROR,
    PAYLOAD_HELP,
    UNEXPECTED,
    DataverseError,
    bad_request,
)
from sandbox.dynamics.http import ApiRequest, ApiResponse
from sandbox.dynamics.records import Engine
from sandbox.dynamics.schema import Table

BULK_ACTIONS = frozenset({"CreateMultiple", "UpdateMultiple", "UpsertMultiple"})
SQL_TIMEOUT = "0x80044151"  # CRM ErrorCode -2147204783 ("SQL timeout expired")


def request_key(method: str, path: str) -> str:
    """``POST accounts`` for statistics; bulk actions keep their name (``POST accounts/UpsertMultiple``),
    top-level or inside a ``$batch``."""
    parts = path.strip("/").split("/")
    head = parts[0].split("(")[0]
    if len(parts) == 2 and parts[1].removeprefix("Microsoft.Dynamics.CRM.") in BULK_ACTIONS:
        return f"{method} {head}/{parts[1].removeprefix('Microsoft.Dynamics.CRM.')}"
    return f"{method} {head}"


def _targets(req: ApiRequest, table: Table, action: str, limit: int) -> list[dict[str, Any]]:
    body = req.json()
    targets = body.get("Targets") if isinstance(body, dict) else None
    if not isinstance(targets, list) or not targets:
        raise bad_request(f"The parameter 'Targets' of {action} is required and must hold at least one entity.",
                          INVALID_ARGUMENT)
    if limit and len(targets) > limit:
        raise DataverseError(500, SQL_TIMEOUT, "Sql error: SQL timeout expired. CRM ErrorCode: -2147204783 Sql "
                             "ErrorCode: -2146232060 Sql Number: -2")
    wanted = f"Microsoft.Dynamics.CRM.{table.logical}"
    for index, target in enumerate(targets):
        if not isinstance(target, dict):
            raise bad_request(f"Targets[{index}] of {action} must be an entity object.", INVALID_ARGUMENT)
        found = str(target.get("@odata.type", "")).removeprefix("#")
        if not found:
            raise bad_request(f"Targets[{index}] of {action} lacks the required '@odata.type' annotation "
                              f"('{wanted}').", INVALID_ARGUMENT)
        if found != wanted:
            raise bad_request(f"All the records of {action} must be of the table of the entity set "
                              f"'{table.entity_set}': Targets[{index}] is '{found}', expected '{wanted}'.",
                              INVALID_ARGUMENT)
    return targets


class BulkActions:
    """Runs one bulk action in one store transaction (standard tables: all or nothing)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.org = engine.org

    def run(self, req: ApiRequest, table: Table, action: str) -> ApiResponse:
        cfg = self.org.config
        if table.logical in cfg.bulk_unsupported_tables:
            raise bad_request(f"The '{action}' method does not support entities of type '{table.logical}'. "
                              "MessageProcessorCache returned MessageProcessor.Empty.", INVALID_ARGUMENT)
        targets = _targets(req, table, action, cfg.bulk_max_targets)
        with self.org.store.tx():
            if action == "CreateMultiple":
                ids = [str(self.engine.create(table, t, req.caller)[table.primary_id]) for t in targets]
                return ApiResponse.of_json({
                    "@odata.context": f"{req.base_url}{DATA_PREFIX}$metadata#Microsoft.Dynamics.CRM."
                                      "CreateMultipleResponse",
                    "Ids": ids})
            for target in targets:
                if action == "UpdateMultiple":
                    self._update(req, table, target)
                else:
                    self._upsert(req, table, target)
        return ApiResponse.empty(204)

    def _update(self, req: ApiRequest, table: Table, target: dict[str, Any]) -> None:
        record_id = target.get(table.primary_id)
        if not isinstance(record_id, str):
            raise bad_request(f"Each target of UpdateMultiple must carry its primary key '{table.primary_id}'.",
                              INVALID_ARGUMENT)
        doc = self.engine.find(table, record_id)
        if doc is None:
            raise DataverseError(404, NOT_FOUND, f"{table.logical} With Ids = {record_id} Do Not Exist")
        self.engine.update(table, doc, {k: v for k, v in target.items() if k != table.primary_id}, req.caller)

    def _address(self, table: Table, target: dict[str, Any]) -> str | dict[str, Any] | None:
        """The record a target names: ``@odata.id``, else its primary key, else a complete alternate key."""
        ref = target.get("@odata.id")
        if ref is not None:
            if "://" in str(ref):
                raise bad_request(PAYLOAD_HELP.format(
                    entity=table.entity_set, inner=f"The @odata.id '{ref}' is an absolute URI; a target of "
                    f"UpsertMultiple is identified by a relative one ('{table.entity_set}(<key>)')."), PAYLOAD_ERROR)
            ref_table, key = self.engine.parse_ref(str(ref))
            if ref_table is not table:
                raise bad_request(f"The @odata.id '{ref}' does not address the table '{table.logical}'.",
                                  INVALID_ARGUMENT)
            return key
        if isinstance(target.get(table.primary_id), str):
            return str(target[table.primary_id])
        delay = self.org.config.key_activation_delay_s
        for keydef in table.keys:
            if keydef.status(delay) == "Active" and all(target.get(a) is not None for a in keydef.attributes):
                return {a: target[a] for a in keydef.attributes}
        return None

    def _upsert(self, req: ApiRequest, table: Table, target: dict[str, Any]) -> None:
        key = self._address(table, target)
        body = {k: v for k, v in target.items() if k != table.primary_id}
        doc = self.engine.find(table, key) if key is not None else None
        if doc is not None:
            self.engine.update(table, doc, body, req.caller)
        elif isinstance(key, str):
            self.engine.create(table, body, req.caller, record_id=key)
        elif isinstance(key, dict):
            self.engine.key_of(table, key)
            if "@odata.id" in target and any(a in body for a in key):
                # the create path refuses a key column named twice (PowerPlatform-DataverseClient-Python#127)
                raise DataverseError(400, UNEXPECTED, "An unexpected error occurred.")
            self.engine.create(table, body, req.caller, key_values=key)
        else:
            self.engine.create(table, body, req.caller)
