"""HTTP API: API Gateway (REST, proxy integration) -> Powertools resolver -> :mod:`shared.api`.

Routes only: each one calls one :class:`shared.api.MigrationsApi` operation and dumps its
model. Errors are :class:`shared.api.ApiError` subclasses, mapped to their status here.
The human-in-the-loop routes (approvals, Slack) are added to the same resolver.

Request validation is Powertools' (``enable_validation=True``): every route declares its path,
query, form and body parameters with pydantic models, the same models the OpenAPI document
(:mod:`flitstack.openapi`, ``docs/contracts/openapi.json``) is generated from. A request the
models refuse answers ``400 invalid_request`` naming each field (:func:`validation_error`), as
the domain's own refusals do; the body's size and nesting caps are checked before any parsing.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError, ValidationException
from aws_lambda_powertools.event_handler.openapi.params import Body, Form
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from shared.api import (
    ApiError,
    ErrorBody,
    InvalidRequest,
    MigrationsApi,
    MigrationView,
    StartedMigration,
    StartedRollback,
    StartMigrationRequest,
    check_body_size,
    check_body_text,
    validation_field_errors,
)
from shared.approvals import ApprovalStore
from shared.aws import BlobStore, RunReports, RunStore, StepFunctionsExecutions, StepFunctionsTasks
from shared.domain.estimate import Estimate
from shared.estimates import EstimateRequest, estimate_request
from shared.notify import approval_config
from shared.observability import begin_invocation, bind, logger, tracer
from shared.settings import ApiSettings, get_settings
from shared.signoff_api import (
    PAGE_HEADERS,
    DecisionRequest,
    DecisionView,
    MappingEdit,
    MappingEdited,
    MappingView,
    SignOffApi,
    SlackReply,
)

app = APIGatewayRestResolver(enable_validation=True)

LinkDecision = Literal["approve", "reject"]

_JSON = content_types.APPLICATION_JSON
_HTML = "text/html; charset=utf-8"


def _refusals(*statuses: int) -> dict[int, Any]:
    """OpenAPI entries for the JSON refusals a route may answer (``{"error", "message", "errors"?}``)."""
    what = {400: "invalid request: each bad field named", 403: "no or wrong API key", 404: "no such run",
            409: "conflict: the run's state forbids it", 413: "body over 1 MiB"}
    return {s: {"description": what[s], "content": {_JSON: {"model": ErrorBody}}} for s in statuses}


def _ok(status: int, model: type[BaseModel], description: str) -> dict[int, Any]:
    return {status: {"description": description, "content": {_JSON: {"model": model}}}}


_PAGE = {"content": {_HTML: {"schema": {"type": "string"}}}}
_APPROVAL_PAGES: dict[int, Any] = {
    200: {"description": "the page", **_PAGE},
    400: {"description": "a form field missing or malformed", "content": {_JSON: {"model": ErrorBody}}},
    403: {"description": "forged: the signature does not match", **_PAGE},
    404: {"description": "unknown approval, or another run's (a page); a path no route serves (JSON)",
          "content": {**_PAGE["content"], _JSON: {"model": ErrorBody}}},
    409: {"description": "already decided", **_PAGE},
    410: {"description": "expired", **_PAGE},
}


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


def _json(status: int, body: BaseModel | dict[str, Any]) -> Response[str]:
    text = body.model_dump_json() if isinstance(body, BaseModel) else json.dumps(body)
    return Response(status_code=status, content_type=_JSON, body=text)


def _html(status: int, page: str) -> Response[str]:
    return Response(status_code=status, content_type=_HTML, body=page, headers=dict(PAGE_HEADERS))


def _base_url() -> str:
    """Scheme, host and stage of this request (``https://<id>.execute-api.../v1``), for links."""
    event = app.current_event
    headers = {k.lower(): v for k, v in (event.headers or {}).items()}
    host = headers.get("host") or event.request_context.domain_name or "localhost"
    scheme = headers.get("x-forwarded-proto", "https")
    full_path = str(event.raw_event.get("requestContext", {}).get("path") or event.path)
    stage_prefix = full_path[: -len(event.path)] if event.path and full_path.endswith(event.path) else ""
    return f"{scheme}://{host}{stage_prefix}"


def _dump(body: BaseModel | None) -> dict[str, Any] | None:
    return None if body is None else body.model_dump(exclude_unset=True)


@app.post("/migrations", summary="Start a migration", tags=["migrations"],
          responses={**_ok(202, StartedMigration, "started"), **_refusals(400, 403, 409, 413)})
def start_migration(body: Annotated[StartMigrationRequest, Body()]) -> Response[str]:
    started = migrations().start(body.model_dump(exclude_unset=True), _base_url())
    bind(run_id=started.id)
    logger.info("migration started", extra={"execution_arn": started.execution_arn})
    return _json(202, started)


@app.post("/estimates", summary="Grade and estimate a migration before any credentials", tags=["estimates"],
          responses={**_ok(200, Estimate, "the grade, calls/credits, duration and days at quota"),
                     **_refusals(400, 403, 413)})
def post_estimate(body: Annotated[EstimateRequest, Body()]) -> Response[str]:
    return _json(200, estimate_request(body))


@app.get("/migrations/<run_id>", summary="A run's state, step, counts, failure and reports", tags=["migrations"],
         responses={**_ok(200, MigrationView, "the run"), **_refusals(403, 404)})
def get_migration(run_id: str) -> Response[str]:
    return _json(200, migrations().get(run_id, _base_url()))


@app.post("/migrations/<run_id>/rollback", summary="Roll a finished run back", tags=["migrations"],
          responses={**_ok(202, StartedRollback, "rollback started"), **_refusals(403, 404, 409)})
def start_rollback(run_id: str) -> Response[str]:
    started = migrations().rollback(run_id, _base_url())
    bind(run_id=run_id)
    logger.info("rollback started", extra={"execution_arn": started.execution_arn})
    return _json(202, started)


@app.get("/migrations/<run_id>/reports/<name>", summary="One report file, with its content type", tags=["migrations"],
         responses={200: {"description": "the file", "content": {
             ct: {"schema": {"type": "string"}} for ct in
             ("text/markdown", "text/csv", "text/html", _JSON, "application/x-ndjson", "text/plain")}},
             **_refusals(403, 404)})
def get_report(run_id: str, name: str) -> Response[Any]:
    report = migrations().report(run_id, name)
    body: Any = report.body
    if isinstance(body, bytes) and "json" in report.content_type:
        # Powertools re-serialises a JSON response whose body is not a str (bytes -> 500).
        body = body.decode("utf-8", "replace")
    return Response(status_code=200, content_type=report.content_type, body=body)


@app.get("/migrations/<run_id>/mapping", summary="The proposed (or edited) mapping and its sign-off state",
         tags=["sign-off"], responses={**_ok(200, MappingView, "the mapping"), **_refusals(403, 404, 409)})
def get_mapping(run_id: str) -> Response[str]:
    return _json(200, signoffs().mapping(run_id))


@app.put("/migrations/<run_id>/mapping", summary="Replace the mapping while the run waits for its sign-off",
         tags=["sign-off"],
         responses={**_ok(200, MappingEdited, "the edit is kept"), **_refusals(400, 403, 404, 409, 413)})
def put_mapping(run_id: str, body: Annotated[MappingEdit, Body()]) -> Response[str]:
    return _json(200, signoffs().put_mapping(run_id, body.model_dump(exclude_unset=True)))


_DECISION_RESPONSES = {**_ok(200, DecisionView, "decided"), **_refusals(400, 403, 404, 409, 413)}


@app.post("/migrations/<run_id>/mapping/approve", summary="Approve the mapping sign-off", tags=["sign-off"],
          responses=_DECISION_RESPONSES)
def approve_mapping(run_id: str, body: Annotated[DecisionRequest | None, Body()] = None) -> Response[str]:
    return _json(200, signoffs().operator_decision(run_id, "approve", _caller(), _dump(body), stage="mapping"))


@app.post("/migrations/<run_id>/approve", summary="Approve the sign-off the run waits for", tags=["sign-off"],
          responses=_DECISION_RESPONSES)
def approve(run_id: str, body: Annotated[DecisionRequest | None, Body()] = None) -> Response[str]:
    return _json(200, signoffs().operator_decision(run_id, "approve", _caller(), _dump(body)))


@app.post("/migrations/<run_id>/reject", summary="Reject the sign-off the run waits for (a reason is required)",
          tags=["sign-off"], responses=_DECISION_RESPONSES)
def reject(run_id: str, body: Annotated[DecisionRequest | None, Body()] = None) -> Response[str]:
    return _json(200, signoffs().operator_decision(run_id, "reject", _caller(), _dump(body)))


@app.get("/approvals/<approval_id>/<decision>", summary="An e-mailed link: a confirmation page (decides nothing)",
         tags=["approvers"], responses=_APPROVAL_PAGES)
def approval_page(approval_id: str, decision: LinkDecision, run: str = "", stage: str = "", exp: str = "",
                  sig: str = "") -> Response[str]:
    status, page = signoffs().confirm_page(approval_id, decision, {"run": run, "stage": stage, "exp": exp,
                                                                   "sig": sig})
    logger.info("approval page", extra={"status": status, "decision": decision})
    return _html(status, page)


@app.post("/approvals/<approval_id>/<decision>", summary="The confirmation page's button: decides, once",
          tags=["approvers"], responses=_APPROVAL_PAGES)
def approval_decision(approval_id: str, decision: LinkDecision, run: Annotated[str, Form()],
                      stage: Annotated[str, Form()], exp: Annotated[str, Form()],
                      sig: Annotated[str, Form()]) -> Response[str]:
    status, page = signoffs().link_decision(approval_id, decision, {"run": run, "stage": stage, "exp": exp,
                                                                    "sig": sig})
    logger.info("approval decision", extra={"status": status, "decision": decision})
    return _html(status, page)


@app.post("/slack/actions", summary="Slack's interactivity callback (X-Slack-Signature verified)", tags=["approvers"],
          responses={**_ok(200, SlackReply, "decided; the message is replaced"), **_refusals(400, 404, 409),
                     401: {"description": "bad signature or stale timestamp",
                           "content": {_JSON: {"model": ErrorBody}}}})
def slack_action() -> Response[str]:
    event = app.current_event
    return _json(200, signoffs().slack(event.decoded_body.encode() if isinstance(event.decoded_body, str)
                                       else bytes(event.decoded_body or b""), dict(event.headers or {})))


def api_error(exc: ApiError) -> Response[str]:
    logger.info("request refused", extra={"status": exc.status, "error": exc.code})
    return _json(exc.status, exc.body())


def validation_error(exc: ValidationException) -> Response[str]:
    """Powertools' request validation refusals, as the API's own: 400, each field named, input never echoed."""
    route = app.context.get("_route")
    bodies = route.dependant.body_params if route is not None and route.dependant else []
    model = bodies[0].field_info.annotation if len(bodies) == 1 else None
    refused = InvalidRequest(validation_field_errors(exc.errors(), model if isinstance(model, type) else None))
    return api_error(refused)


def no_route(_exc: Exception) -> Response[str]:
    """A path or method no route serves: the API's JSON refusal (not Powertools' own body)."""
    event = app.current_event
    return _json(404, {"error": "not_found", "message": f"no route {event.http_method} {event.path}"})


app.not_found(no_route)
app.exception_handler(ApiError)(api_error)
app.exception_handler(RequestValidationError)(validation_error)
app.exception_handler(ValidationException)(validation_error)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    begin_invocation(context)
    try:
        raw_size = len(event.get("body") or "")
        check_body_size(raw_size * 3 // 4 if event.get("isBase64Encoded") else raw_size)
        check_body_text(event)
    except ApiError as exc:  # 413 too large, 400 too deeply nested: refused before any parsing
        return {"statusCode": exc.status, "headers": {"Content-Type": _JSON},
                "body": json.dumps(exc.body()), "isBase64Encoded": False}
    return app.resolve(event, context)
