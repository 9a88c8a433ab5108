"""HTTP routes of the bulk export API (the job logic is in :mod:`.exports`)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Request, Response

from sandbox.servicetracker.config import API_PREFIX
from sandbox.servicetracker.errors import ApiError
from sandbox.servicetracker.limits import retry_after
from sandbox.servicetracker.rest import check_params, json_response
from sandbox.servicetracker.runtime import Runtime


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or 400 ``INVALID_BODY``."""
    try:
        body = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "INVALID_BODY", f"request body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "INVALID_BODY", "request body must be a JSON object")
    return body


def export_router(rt: Runtime) -> APIRouter:
    router = APIRouter(prefix=f"{API_PREFIX}/exports")

    @router.post("")
    async def create(request: Request) -> Response:
        """Create a job (201 + ``Location``); 429 ``EXPORT_LIMIT_EXCEEDED`` when too many run."""
        check_params(request, set())
        job_request = rt.exports.parse(await json_body(request))
        job = await asyncio.to_thread(rt.exports.create, job_request, rt.config)
        rt.stats.bump("exports_created")
        return json_response(job, 201, headers={"Location": f"{API_PREFIX}/exports/{job['id']}"})

    @router.get("")
    def jobs(request: Request) -> Response:
        check_params(request, set())
        return json_response({"data": rt.exports.jobs()})

    @router.get("/{job_id}")
    def status(job_id: str, request: Request) -> Response:
        check_params(request, set())
        job = rt.exports.describe(job_id)
        headers = {"Retry-After": retry_after(job["retry_after_s"])} if job["state"] == "in_progress" else None
        return json_response(job, headers=headers)

    @router.get("/{job_id}/results/{number}")
    def results(job_id: str, number: int, request: Request) -> Response:
        """One NDJSON result page; ``Link: rel="next"`` while more pages follow."""
        check_params(request, set())
        rows, pages = rt.exports.page(job_id, number)
        headers = {"X-Page": str(number), "X-Page-Count": str(pages)}
        if number < pages:
            headers["Link"] = f'<{API_PREFIX}/exports/{job_id}/results/{number + 1}>; rel="next"'
        body = "".join(row + "\n" for row in rows)
        return Response(body, media_type="application/x-ndjson", headers=headers)

    @router.delete("/{job_id}")
    def delete(job_id: str, request: Request) -> Response:
        """Abort or discard a job (frees its slot at once)."""
        check_params(request, set())
        rt.exports.delete(job_id)
        return Response(status_code=204)

    return router
