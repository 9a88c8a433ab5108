"""HTTP API: API Gateway (REST, proxy integration) -> Powertools resolver -> :mod:`shared.api`.

Routes only: each one calls one :class:`shared.api.MigrationsApi` operation and dumps its
model. Errors are :class:`shared.api.ApiError` subclasses, mapped to their status here.
The human-in-the-loop routes (approvals, Slack) are added to the same resolver.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from shared.api import ApiError, InvalidRequest, MigrationsApi
from shared.aws import BlobStore, RunReports, RunStore, StepFunctionsExecutions
from shared.observability import bind, logger, tracer
from shared.settings import ApiSettings, get_settings

app = APIGatewayRestResolver()


@lru_cache(maxsize=1)
def migrations() -> MigrationsApi:
    settings, api = get_settings(), ApiSettings()  # type: ignore[call-arg]
    return MigrationsApi(
        StepFunctionsExecutions(api.migrate_state_machine_arn, api.rollback_state_machine_arn),
        RunStore(settings.runs_table),
        RunReports(BlobStore(settings.data_bucket)),
    )


def _json(status: int, body: BaseModel | dict[str, Any]) -> Response[str]:
    text = body.model_dump_json() if isinstance(body, BaseModel) else json.dumps(body)
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=text)


def _base_url() -> str:
    """Scheme, host and stage of this request (``https://<id>.execute-api.../v1``), for links."""
    event = app.current_event
    headers = {k.lower(): v for k, v in (event.headers or {}).items()}
    host = headers.get("host") or event.request_context.domain_name or "localhost"
    scheme = headers.get("x-forwarded-proto", "https")
    full_path = str(event.raw_event.get("requestContext", {}).get("path") or event.path)
    stage_prefix = full_path[: -len(event.path)] if event.path and full_path.endswith(event.path) else ""
    return f"{scheme}://{host}{stage_prefix}"


def _body() -> Any:
    try:
        return app.current_event.json_body
    except ValueError as exc:
        raise InvalidRequest([{"field": "body", "message": "must be valid JSON"}]) from exc


@app.post("/migrations")
def start_migration() -> Response[str]:
    started = migrations().start(_body(), _base_url())
    bind(run_id=started.id)
    logger.info("migration started", extra={"execution_arn": started.execution_arn})
    return _json(202, started)


@app.get("/migrations/<run_id>")
def get_migration(run_id: str) -> Response[str]:
    return _json(200, migrations().get(run_id, _base_url()))


@app.post("/migrations/<run_id>/rollback")
def start_rollback(run_id: str) -> Response[str]:
    started = migrations().rollback(run_id, _base_url())
    bind(run_id=run_id)
    logger.info("rollback started", extra={"execution_arn": started.execution_arn})
    return _json(202, started)


@app.get("/migrations/<run_id>/reports/<name>")
def get_report(run_id: str, name: str) -> Response[bytes]:
    report = migrations().report(run_id, name)
    return Response(status_code=200, content_type=report.content_type, body=report.body)


def api_error(exc: ApiError) -> Response[str]:
    logger.info("request refused", extra={"status": exc.status, "error": exc.code})
    return _json(exc.status, exc.body())


app.exception_handler(ApiError)(api_error)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
