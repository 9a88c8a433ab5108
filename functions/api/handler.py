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

from shared.api import ApiError, MigrationsApi, PayloadTooLarge, check_body_size, parse_json_body
from shared.approvals import ApprovalStore
from shared.aws import BlobStore, RunReports, RunStore, StepFunctionsExecutions, StepFunctionsTasks
from shared.notify import approval_config
from shared.observability import bind, logger, tracer
from shared.settings import ApiSettings, get_settings
from shared.signoff_api import SignOffApi

app = APIGatewayRestResolver()


@lru_cache(maxsize=1)
def migrations() -> MigrationsApi:
    settings, api = get_settings(), ApiSettings()  # type: ignore[call-arg]
    return MigrationsApi(
        StepFunctionsExecutions({"migrate": api.migrate_state_machine_arn, "rollback": api.rollback_state_machine_arn}),
        RunStore(settings.runs_table),
        RunReports(BlobStore(settings.data_bucket)),
    )


@lru_cache(maxsize=1)
def signoffs() -> SignOffApi:
    settings = get_settings()
    return SignOffApi(RunStore(settings.runs_table), BlobStore(settings.data_bucket),
                      ApprovalStore(settings.approvals_table), StepFunctionsTasks(),
                      link_keys=lambda: approval_config().link_keys,
                      slack_secret=lambda: approval_config().slack_signing_secret)


def _caller() -> str:
    """Who is deciding through a management route: the IAM caller (the API key's owner locally)."""
    identity = app.current_event.request_context.identity
    return str(identity.user_arn or identity.caller or identity.user or "operator")


def _optional_body() -> Any:
    return _body() if (app.current_event.body or "").strip() else None


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
    """The JSON body, capped in size and nesting (413 / 400 naming the problem, never a 500)."""
    return parse_json_body(app.current_event.decoded_body or "")


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
def get_report(run_id: str, name: str) -> Response[Any]:
    report = migrations().report(run_id, name)
    body: Any = report.body
    if isinstance(body, bytes) and "json" in report.content_type:
        # Powertools re-serialises a JSON response whose body is not a str (bytes -> 500).
        body = body.decode("utf-8", "replace")
    return Response(status_code=200, content_type=report.content_type, body=body)


@app.get("/migrations/<run_id>/mapping")
def get_mapping(run_id: str) -> Response[str]:
    return _json(200, signoffs().mapping(run_id))


@app.put("/migrations/<run_id>/mapping")
def put_mapping(run_id: str) -> Response[str]:
    return _json(200, signoffs().put_mapping(run_id, _body()))


@app.post("/migrations/<run_id>/mapping/approve")
def approve_mapping(run_id: str) -> Response[str]:
    return _json(200, signoffs().operator_decision(run_id, "approve", _caller(), _optional_body(), stage="mapping"))


@app.post("/migrations/<run_id>/approve")
def approve(run_id: str) -> Response[str]:
    return _json(200, signoffs().operator_decision(run_id, "approve", _caller(), _optional_body()))


@app.post("/migrations/<run_id>/reject")
def reject(run_id: str) -> Response[str]:
    return _json(200, signoffs().operator_decision(run_id, "reject", _caller(), _optional_body()))


@app.get("/approvals/<approval_id>/<decision>")
def approval_link(approval_id: str, decision: str) -> Response[str]:
    query = {k: v for k, v in (app.current_event.query_string_parameters or {}).items() if isinstance(v, str)}
    status, page = signoffs().link(approval_id, decision, query)
    logger.info("approval link", extra={"status": status, "decision": decision})
    return Response(status_code=status, content_type="text/html; charset=utf-8", body=page)


@app.post("/slack/actions")
def slack_action() -> Response[str]:
    event = app.current_event
    return _json(200, signoffs().slack(event.decoded_body.encode() if isinstance(event.decoded_body, str)
                                       else bytes(event.decoded_body or b""), dict(event.headers or {})))


def api_error(exc: ApiError) -> Response[str]:
    logger.info("request refused", extra={"status": exc.status, "error": exc.code})
    return _json(exc.status, exc.body())


app.exception_handler(ApiError)(api_error)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        raw_size = len(event.get("body") or "")
        check_body_size(raw_size * 3 // 4 if event.get("isBase64Encoded") else raw_size)
    except PayloadTooLarge as exc:
        return {"statusCode": exc.status, "headers": {"Content-Type": content_types.APPLICATION_JSON},
                "body": json.dumps(exc.body()), "isBase64Encoded": False}
    return app.resolve(event, context)
