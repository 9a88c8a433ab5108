"""The HTTP API's domain: start a migration, show it, roll it back, hand out its reports.

``functions/api/handler.py`` routes API Gateway events here; this module imports no boto3.
It talks to Step Functions, the run table and the data bucket through the three small ports
below (adapters in :mod:`shared.aws`, fakes in the unit tests). Every failure is one
:class:`ApiError` subclass carrying its HTTP status, so the handler maps errors in one place.

Guarantees: a run id is started at most once (the run item is created conditionally before
the execution, whose name is the run id); a rollback never starts while the migration or a
previous rollback of it is still running; responses carry secret *names* only.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ValidationError

from shared.executions import ExecutionStart, migration_start, rollback_start
from shared.models import Endpoint, RunOptions, RunRef, Strict, is_run_id, sample_environment_problems
from shared.pairs import pair_name, pairs

Workflow = Literal["migrate", "rollback"]

#: Step Functions execution statuses that are still moving.
RUNNING = "RUNNING"

#: What a report name may look like (a file directly under ``runs/<id>/reports/``).
_REPORT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

_CONTENT_TYPES = {
    ".md": "text/markdown; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".jsonl": "application/x-ndjson",
    ".txt": "text/plain; charset=utf-8",
}
_GENERIC_TYPES = {"", "binary/octet-stream", "application/octet-stream"}


# --- errors ---------------------------------------------------------------------------------
class ApiError(Exception):
    """A request the API refuses; ``status`` is the HTTP status, ``code`` the machine-readable kind."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message}


class InvalidRequest(ApiError):
    """The body does not describe a migration we can run; ``errors`` name each field and what is allowed."""

    status = 400
    code = "invalid_request"

    def __init__(self, errors: Sequence[Mapping[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = [dict(e) for e in errors]

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, "errors": self.errors}


_PATH = re.compile(r"""(?:[A-Za-z]:)?(?:[\\/][^\s"'\\/:,)]+)+[\\/]?""")


def one_line_cause(cause: object) -> str:
    """What a failure's ``cause`` may show a caller: the error class and a one-line message, no traceback
    and no local paths. Lambda's ``{"errorType", "errorMessage", "stackTrace"}`` and plain tracebacks
    both reduce to ``Type: message``."""
    text = str(cause or "")
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and ("errorType" in parsed or "errorMessage" in parsed):
        kind, message = str(parsed.get("errorType") or ""), str(parsed.get("errorMessage") or "")
        text = f"{kind}: {message}" if kind else message
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and lines[0].startswith("Traceback"):
        lines = lines[-1:]  # the exception line ends a traceback
    first = lines[0] if lines else ""
    return _PATH.sub("<path>", first)[:500]


def public_failure(failure: Mapping[str, Any]) -> dict[str, Any]:
    """A run's failure record as the API shows it: error name, one-line cause without paths, when."""
    shown = {k: v for k, v in failure.items() if k in ("error", "at", "run_id")}
    shown["cause"] = one_line_cause(failure.get("cause"))
    return shown


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


MAX_BODY_BYTES = 1024 * 1024
"""Largest request body the API reads (1 MiB; a migration request or a mapping edit is a few KiB)."""
MAX_JSON_DEPTH = 32
"""Deepest nesting of objects and arrays a JSON body may have."""


def check_body_size(size: int) -> None:
    if size > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"request body is {size} bytes; at most {MAX_BODY_BYTES} bytes are accepted")


def json_depth(text: str) -> int:
    """The deepest nesting of objects/arrays in ``text`` (a linear scan; strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def parse_json_body(text: str) -> Any:
    """A request body as JSON, refused with a 413 when too large and a 400 when too deep or not JSON."""
    check_body_size(len(text.encode("utf-8", "replace")))
    if json_depth(text) > MAX_JSON_DEPTH:
        raise InvalidRequest([{"field": "body",
                               "message": f"JSON nested deeper than {MAX_JSON_DEPTH} levels is not accepted"}])
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidRequest([{"field": "body", "message": "must be valid JSON"}]) from exc


def check_body_text(event: Mapping[str, Any]) -> None:
    """A proxy event's body, before anything parses it: UTF-8 text, and JSON no deeper than the cap.

    Form bodies (approval buttons, Slack) are not JSON and are not depth-checked.
    """
    raw = event.get("body") or ""
    if not raw:
        return
    if event.get("isBase64Encoded"):
        try:
            text = base64.b64decode(raw).decode("utf-8")
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidRequest([{"field": "body", "message": "must be UTF-8 text"}]) from exc
    else:
        text = str(raw)
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    content_type = headers.get("content-type", "").strip().lower()
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return
    if json_depth(text) > MAX_JSON_DEPTH:
        raise InvalidRequest([{"field": "body",
                               "message": f"JSON nested deeper than {MAX_JSON_DEPTH} levels is not accepted"}])


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every refusal: ``error`` (machine-readable kind), ``message``; a 400 lists each bad field."""

    error: str
    message: str
    errors: list[FieldError] | None = None


def validation_field_errors(errors: Sequence[Mapping[str, Any]], model: type | None) -> list[dict[str, str]]:
    """Powertools' request-validation errors (pydantic's, located under ``body``/``path``/``query``) as
    ``{"field", "message"}`` rows like :func:`field_errors`: the field inside the body, or the parameter's
    name; unknown keys say what is allowed; the input is never echoed."""
    out: list[dict[str, str]] = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ())]
        where, path = (loc[0], loc[1:]) if loc else ("body", [])
        if error.get("type") == "json_invalid":
            out.append({"field": "body", "message": "must be valid JSON"})
            continue
        if error.get("type") == "unsupported_content_type":
            out.append({"field": "content-type", "message": "must be application/json (forms: "
                                                           "application/x-www-form-urlencoded)"})
            continue
        message = str(error.get("msg") or "is not valid")
        if error.get("type") == "extra_forbidden" and isinstance(model, type) and issubclass(model, BaseModel):
            allowed = _allowed_fields(model, path[:-1])
            message = f"unknown field; allowed: {', '.join(allowed)}" if allowed else "unknown field"
        elif error.get("type") == "missing" and where == "body" and not path:
            message = "a JSON body is required"
        out.append({"field": ".".join(path) or where, "message": message})
    return out or [{"field": "body", "message": "is not valid"}]


class RunNotFound(ApiError):
    status = 404
    code = "not_found"


class ReportNotFound(ApiError):
    status = 404
    code = "not_found"


class RunConflict(ApiError):
    """The run exists already, or is in a state that forbids the action (still running)."""

    status = 409
    code = "conflict"


class AlreadyExists(Exception):
    """An adapter refused to create what exists already (run item, execution name)."""


# --- ports ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Execution:
    """What DescribeExecution says about one execution (input parsed, or None when absent)."""

    arn: str
    name: str
    status: str
    input: dict[str, Any] | None = None
    started_at: str | None = None
    stopped_at: str | None = None


@dataclass(frozen=True)
class Report:
    body: bytes
    content_type: str


class Executions(Protocol):
    def start(self, workflow: Workflow, start: ExecutionStart) -> str:
        """Start an execution; its ARN. :class:`AlreadyExists` when the name is taken."""

    def migration(self, run_id: str) -> Execution | None:
        """The migrate execution of a run (named after it), or None."""

    def describe(self, execution_arn: str) -> Execution | None: ...


class Runs(Protocol):
    def create(self, run_id: str, **fields: Any) -> None:
        """Create the run item; :class:`AlreadyExists` when there is one."""

    def update(self, run_id: str, **fields: Any) -> None: ...

    def get(self, run_id: str) -> dict[str, Any] | None: ...


class Reports(Protocol):
    def names(self, run_id: str) -> list[str]:
        """File names directly under the run's ``reports/`` folder."""

    def get(self, run_id: str, name: str) -> Report | None: ...


# --- requests and responses -----------------------------------------------------------------
class StartMigrationRequest(Strict):
    """``POST /migrations``: where from, where to (secret *names*), the options, optionally the run id."""

    source: Endpoint
    destination: Endpoint
    options: RunOptions = RunOptions()
    run_id: str | None = None
    #: Another environment of the destination (a sandbox) for the sample; needs approval 'manual'.
    sample_destination: Endpoint | None = None


class Links(BaseModel):
    self: str
    rollback: str
    reports: list[str] = []


class StartedMigration(BaseModel):
    id: str
    status: str
    execution_arn: str
    status_url: str
    links: Links


class StartedRollback(BaseModel):
    id: str
    rollback_id: str
    execution_arn: str
    status_url: str


class MigrationView(BaseModel):
    id: str
    state: str
    execution_status: str | None
    current_step: str | None
    pair: str | None
    source: dict[str, str] | None
    destination: dict[str, str] | None
    started_at: str | None
    stopped_at: str | None
    summary: dict[str, Any] | None
    failure: dict[str, Any] | None
    reports: list[str]
    rollback: dict[str, Any] | None
    links: Links


def new_run_id() -> str:
    return datetime.now(UTC).strftime("run-%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def _allowed_fields(model: type[BaseModel], path: Sequence[int | str]) -> list[str] | None:
    """The fields the model at ``path`` (below ``model``) accepts, to say what is allowed."""
    for part in path:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return sorted(model.model_fields)


def field_errors(exc: ValidationError, model: type[BaseModel], prefix: Sequence[str] = ()) -> list[dict[str, str]]:
    """pydantic's errors as ``{"field": "options.batch_size", "message": ...}``, never echoing input."""
    out = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = [*prefix, *(str(p) for p in error["loc"])]
        message = str(error["msg"])
        if error["type"] == "extra_forbidden":
            allowed = _allowed_fields(model, loc[len(prefix):-1])
            message = f"unknown field; allowed: {', '.join(allowed)}" if allowed else "unknown field"
        out.append({"field": ".".join(loc) or "body", "message": message})
    return out


def parse_start_request(body: Any) -> RunRef:
    """The RunRef a ``POST /migrations`` body describes, or :class:`InvalidRequest` naming each bad field."""
    if not isinstance(body, dict):
        raise InvalidRequest([{"field": "body", "message": "must be a JSON object with source, destination, options"}])
    try:
        request = StartMigrationRequest.model_validate(body)
    except ValidationError as exc:
        raise InvalidRequest(field_errors(exc, StartMigrationRequest)) from exc
    pair = pair_name(request.source.kind, request.destination.kind)
    if pair is None:
        allowed = ", ".join(p.replace("-", " -> ", 1) for p in pairs())
        raise InvalidRequest([{
            "field": "source.kind/destination.kind",
            "message": f"{request.source.kind} -> {request.destination.kind} is not supported; "
                       f"allowed pairs: {allowed}",
        }])
    problems = sample_environment_problems(request.destination, request.sample_destination, request.options)
    if problems:
        raise InvalidRequest([{"field": where, "message": what} for where, what in problems])
    try:
        return RunRef(run_id=request.run_id or new_run_id(), pair=pair, source=request.source,
                      destination=request.destination, options=request.options,
                      sample_destination=request.sample_destination)
    except ValidationError as exc:
        raise InvalidRequest(field_errors(exc, RunRef)) from exc


def _endpoint_view(value: Any) -> dict[str, str] | None:
    """Kind and secret name only (the RunRef holds nothing else, but never pass through more)."""
    if not isinstance(value, dict):
        return None
    return {k: str(value[k]) for k in ("kind", "secret_name") if k in value}


def migration_state(execution: Execution | None, item: Mapping[str, Any] | None) -> str:
    """One word for the run: the execution's status, refined by what the steps wrote to the run table."""
    recorded = str((item or {}).get("status") or "")
    if execution is None:
        return recorded or "unknown"
    if execution.status == RUNNING:
        return recorded if recorded in {"paused", "awaiting_approval", "rejecting"} else "running"
    if execution.status == "SUCCEEDED":
        return recorded if recorded and recorded not in {"starting", "running"} else "succeeded"
    return execution.status.lower()


class MigrationsApi:
    """The operations behind ``/migrations``; ``base_url`` (scheme, host, stage) builds the links."""

    def __init__(self, executions: Executions, runs: Runs, reports: Reports) -> None:
        self.executions = executions
        self.runs = runs
        self.reports = reports

    @staticmethod
    def links(base_url: str, run_id: str, reports: Sequence[str] = ()) -> Links:
        own = f"{base_url}/migrations/{run_id}"
        return Links(self=own, rollback=f"{own}/rollback", reports=[f"{own}/reports/{n}" for n in reports])

    def start(self, body: Any, base_url: str) -> StartedMigration:
        run = parse_start_request(body)
        start = migration_start(run)
        if self.executions.migration(run.run_id) is not None:
            raise RunConflict(f"run {run.run_id!r} exists already; choose another run_id or omit it")
        try:
            self.runs.create(run.run_id, status="starting", run=run.model_dump(), requested_at=_now())
        except AlreadyExists as exc:
            raise RunConflict(f"run {run.run_id!r} exists already; choose another run_id or omit it") from exc
        try:
            arn = self.executions.start("migrate", start)
        except AlreadyExists as exc:
            raise RunConflict(f"run {run.run_id!r} exists already; choose another run_id or omit it") from exc
        self.runs.update(run.run_id, execution_arn=arn)
        links = self.links(base_url, run.run_id)
        return StartedMigration(id=run.run_id, status="starting", execution_arn=arn, status_url=links.self,
                                links=links)

    def get(self, run_id: str, base_url: str) -> MigrationView:
        execution, item = self._find(run_id)
        run = self._run_ref_dict(execution, item)
        names = self.reports.names(run_id)
        rollback: dict[str, Any] | None = dict(item["rollback"]) if isinstance(item.get("rollback"), dict) else None
        rollback_arn = item.get("rollback_execution")
        if isinstance(rollback_arn, str):
            described = self.executions.describe(rollback_arn)
            rollback = {**(rollback or {}), "execution_arn": rollback_arn,
                        "execution_status": described.status if described else None}
        summary, failure = item.get("summary"), item.get("failure")
        return MigrationView(
            id=run_id,
            state=migration_state(execution, item),
            execution_status=execution.status if execution else None,
            current_step=str(item["step"]) if item.get("step") else None,
            pair=str(run["pair"]) if run and run.get("pair") else None,
            source=_endpoint_view(run.get("source")) if run else None,
            destination=_endpoint_view(run.get("destination")) if run else None,
            started_at=execution.started_at if execution else None,
            stopped_at=execution.stopped_at if execution else None,
            summary=summary if isinstance(summary, dict) else None,
            failure=public_failure(failure) if isinstance(failure, dict) else None,
            reports=names,
            rollback=rollback,
            links=self.links(base_url, run_id, names),
        )

    def rollback(self, run_id: str, base_url: str) -> StartedRollback:
        execution, item = self._find(run_id)
        run_dict = self._run_ref_dict(execution, item)
        if run_dict is None:
            raise RunNotFound(f"run {run_id!r} has no recorded RunRef to roll back with")
        if execution is None or execution.status == RUNNING:
            state = migration_state(execution, item)
            raise RunConflict(f"run {run_id!r} is still {state}: roll back once it has finished (or been stopped)")
        previous = item.get("rollback_execution")
        if isinstance(previous, str):
            described = self.executions.describe(previous)
            if described is not None and described.status == RUNNING:
                raise RunConflict(f"a rollback of run {run_id!r} is already running ({described.name})")
        start = rollback_start(RunRef.model_validate(run_dict))
        try:
            arn = self.executions.start("rollback", start)
        except AlreadyExists as exc:
            raise RunConflict(f"a rollback of run {run_id!r} was started this second; retry shortly") from exc
        self.runs.update(run_id, rollback_execution=arn)
        return StartedRollback(id=run_id, rollback_id=start.name, execution_arn=arn,
                               status_url=self.links(base_url, run_id).self)

    def report(self, run_id: str, name: str) -> Report:
        if not _REPORT_NAME.fullmatch(name):
            raise ReportNotFound(f"no report {name!r}: names are file names under the run's reports/")
        self._find(run_id)
        names = self.reports.names(run_id)
        if name not in names:
            raise ReportNotFound(f"run {run_id!r} has no report {name!r}; it has: {', '.join(names) or 'none yet'}")
        report = self.reports.get(run_id, name)
        if report is None:
            raise ReportNotFound(f"run {run_id!r} has no report {name!r}")
        if name == "failure.json":
            try:
                stored = json.loads(report.body)
            except ValueError:
                stored = {}
            safe = public_failure(stored if isinstance(stored, dict) else {})
            return Report(json.dumps(safe, indent=2).encode(), report.content_type)
        return report

    def _find(self, run_id: str) -> tuple[Execution | None, dict[str, Any]]:
        if not is_run_id(run_id):
            raise RunNotFound(f"no run {run_id!r}")
        item = self.runs.get(run_id)
        execution = self.executions.migration(run_id)
        if item is None and execution is None:
            raise RunNotFound(f"no run {run_id!r}")
        return execution, dict(item or {})

    @staticmethod
    def _run_ref_dict(execution: Execution | None, item: Mapping[str, Any]) -> dict[str, Any] | None:
        """The RunRef the migration ran with: its execution's input, else what the API recorded."""
        if execution is not None and isinstance(execution.input, dict) and isinstance(execution.input.get("run"), dict):
            return dict(execution.input["run"])
        recorded = item.get("run")
        return dict(recorded) if isinstance(recorded, dict) else None


def content_type_for(name: str, stored: str | None) -> str:
    """The stored content type, or one from the extension when S3 holds only a generic one."""
    if stored and stored not in _GENERIC_TYPES:
        return stored
    suffix = name[name.rfind("."):] if "." in name else ""
    return _CONTENT_TYPES.get(suffix, "application/octet-stream")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
