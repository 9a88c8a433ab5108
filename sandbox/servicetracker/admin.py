"""Test-only routes under ``/__standin/``: knobs, counters, record edits for delta tests, device syncs.

Same bearer token as the API; never rate-limited, never faulted, not counted in the daily
allocation.
"""

from __future__ import annotations

import asyncio
import random

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from sandbox.servicetracker.config import ADMIN_PREFIX, StandinConfig
from sandbox.servicetracker.errors import ApiError, invalid, not_found
from sandbox.servicetracker.export_routes import json_body
from sandbox.servicetracker.model import OBJECTS, MobileDevice, format_timestamp
from sandbox.servicetracker.rest import json_response
from sandbox.servicetracker.runtime import Runtime
from sandbox.servicetracker.store import InvalidRecord, RecordNotFound, now_utc


def admin_router(rt: Runtime) -> APIRouter:
    router = APIRouter(prefix=ADMIN_PREFIX)

    def known(obj: str) -> str:
        if obj not in OBJECTS and obj not in rt.store.tables:
            raise not_found(f"unknown object {obj!r}; objects: {', '.join(rt.store.object_names())}")
        return obj

    @router.get("/config")
    def get_config() -> Response:
        return json_response(rt.config.model_dump())

    @router.post("/config")
    async def set_config(request: Request) -> Response:
        """Change knobs; fields not given keep their value."""
        body = await json_body(request)
        try:
            new = StandinConfig.model_validate({**rt.config.model_dump(), **body})
        except ValidationError as exc:
            err = exc.errors()[0]
            raise invalid(".".join(str(p) for p in err["loc"]), str(err["msg"])) from exc
        if new.fault_seed != rt.config.fault_seed:
            rt.faults = random.Random(new.fault_seed)
        rt.config = new
        return json_response(new.model_dump())

    @router.get("/stats")
    def stats() -> Response:
        return json_response({**rt.stats.snapshot(), "daily_used": rt.daily.used()})

    @router.post("/usage/reset")
    def reset_usage() -> Response:
        """Forget the daily allocation's window and the counters."""
        rt.daily.reset()
        rt.stats.reset()
        return json_response({"daily_used": 0})

    @router.post("/records/{obj}")
    async def upsert(obj: str, request: Request) -> Response:
        """Create (201) or edit (200) a record; ``modified_at`` moves forward unless given."""
        obj = known(obj)
        body = await json_body(request)
        existed = isinstance(body.get("id"), int) and rt.store.get(obj, body["id"]) is not None
        try:
            record = await asyncio.to_thread(rt.store.upsert_record, obj, body)
        except InvalidRecord as exc:
            raise ApiError(400, "INVALID_FIELD", str(exc), fields=[exc.field]) from exc
        return json_response(record, 200 if existed else 201)

    @router.delete("/records/{obj}/{record_id}")
    async def delete(obj: str, record_id: int) -> Response:
        obj = known(obj)
        try:
            deleted_at = await asyncio.to_thread(rt.store.delete_record, obj, record_id)
        except RecordNotFound as exc:
            raise not_found(f"{obj} has no record {record_id}") from exc
        return json_response({"object": obj, "id": record_id, "deleted_at": deleted_at})

    @router.post("/mobile/devices/{device_id}/sync")
    def sync(device_id: str) -> Response:
        """The device uploads its offline changes: nothing left unsynced."""
        device = _device(rt, device_id)
        synced = device.model_copy(update={"unsynced_changes": 0, "oldest_unsynced_change_at": None,
                                           "unsynced_by_object": {}, "last_sync_at": format_timestamp(now_utc())})
        rt.store.set_device(synced)
        return json_response(synced.model_dump())

    @router.post("/mobile/devices/{device_id}/offline-changes")
    async def offline(device_id: str, request: Request) -> Response:
        """The technician edits ``{"object": n}`` records while offline."""
        body = await json_body(request)
        device = _device(rt, device_id)
        by_object = dict(device.unsynced_by_object)
        for name, n in body.items():
            if not isinstance(n, int) or n < 1:
                raise invalid(name, "counts must be positive integers")
            by_object[name] = by_object.get(name, 0) + n
        updated = MobileDevice.model_validate({
            **device.model_dump(), "unsynced_by_object": by_object, "unsynced_changes": sum(by_object.values()),
            "oldest_unsynced_change_at": device.oldest_unsynced_change_at or format_timestamp(now_utc())})
        rt.store.set_device(updated)
        return json_response(updated.model_dump())

    return router


def _device(rt: Runtime, device_id: str) -> MobileDevice:
    for d in rt.store.devices():
        if d["device_id"] == device_id:
            return MobileDevice.model_validate(d)
    raise not_found(f"no mobile device {device_id!r}")
