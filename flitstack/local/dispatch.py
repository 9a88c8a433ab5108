"""In-process Lambda dispatch for moto's "simple" (docker-less) Lambda backend.

moto's ``LambdaSimpleBackend.invoke`` only echoes the payload. We replace it so that invoking a
function registered here imports ``functions.<folder>.handler`` (or calls an injected callable)
and runs ``handler(event, context)`` in the server's request thread. Results and unhandled
exceptions are returned exactly as the Lambda runtime returns them, so ASL Retry/Catch match on
the exception's class name.
"""

from __future__ import annotations

import decimal
import importlib
import json
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend

from shared import connections

LOG = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Any]


@dataclass
class LambdaContext:
    """The subset of the Lambda runtime's context object our handlers (and Powertools) use."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_s: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s
        if not self.log_group_name:
            self.log_group_name = f"/aws/lambda/{self.function_name}"
        if not self.log_stream_name:
            self.log_stream_name = time.strftime("%Y/%m/%d") + "/[$LATEST]" + uuid.uuid4().hex

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Registration:
    folder: str
    function_name: str
    function_arn: str
    memory_mb: int
    timeout_s: int
    handler: Handler | None = None  # None: import functions.<folder>.handler lazily


class _Registry:
    """Process-global map: Lambda function name -> what to run (moto's state is process-global too)."""

    def __init__(self) -> None:
        self._by_name: dict[str, Registration] = {}
        self._lock = threading.Lock()
        self.invocations = 0

    def register(self, reg: Registration) -> None:
        with self._lock:
            self._by_name[reg.function_name] = reg
            self._by_name[reg.function_arn] = reg

    def clear(self) -> None:
        with self._lock:
            self._by_name.clear()

    def lookup(self, name_or_arn: str) -> Registration | None:
        reg = self._by_name.get(name_or_arn)
        if reg is None and name_or_arn.startswith("arn:"):
            # arn:aws:lambda:region:acct:function:name[:qualifier]
            parts = name_or_arn.split(":")
            if len(parts) >= 7:
                reg = self._by_name.get(parts[6])
        elif reg is None and ":" in name_or_arn:
            reg = self._by_name.get(name_or_arn.split(":", 1)[0])
        return reg


REGISTRY = _Registry()
_handler_cache: dict[str, Handler] = {}
_import_lock = threading.Lock()


def _resolve_handler(reg: Registration) -> Handler:
    if reg.handler is not None:
        return reg.handler
    cached = _handler_cache.get(reg.folder)
    if cached is not None:
        return cached
    with _import_lock:  # import once, even when a Map fans out to many threads at the same time
        if reg.folder not in _handler_cache:
            module = importlib.import_module(f"functions.{reg.folder}.handler")
            _handler_cache[reg.folder] = module.handler
    return _handler_cache[reg.folder]


def _json_default(obj: Any) -> Any:
    # Like the Lambda Python runtime: Decimals (from DynamoDB) serialise as numbers.
    if isinstance(obj, decimal.Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def error_payload(exc: BaseException, request_id: str = "", skip_frames: int = 0) -> dict[str, Any]:
    """The body the Lambda Python runtime returns for an unhandled exception."""
    frames = traceback.extract_tb(exc.__traceback__)[skip_frames:]
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(frames),
    }


def run_handler(reg: Registration, body: Any) -> tuple[bytes, str | None]:
    """Run one invocation. Returns (payload bytes, function error or None)."""
    REGISTRY.invocations += 1
    context = LambdaContext(
        function_name=reg.function_name,
        invoked_function_arn=reg.function_arn,
        memory_limit_in_mb=reg.memory_mb,
        timeout_s=reg.timeout_s,
    )
    try:
        raw = body.decode("utf-8") if isinstance(body, bytes | bytearray) else body
        event = json.loads(raw) if raw else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        err = {
            "errorMessage": f"Could not parse request body into json: {exc}",
            "errorType": "Runtime.UnmarshalError",
            "requestId": context.aws_request_id,
            "stackTrace": [],
        }
        return json.dumps(err).encode(), "Unhandled"
    try:
        handler = _resolve_handler(reg)
    except Exception as exc:  # noqa: BLE001 - any import failure is the runtime's ImportModuleError
        err = error_payload(exc, context.aws_request_id)
        err["errorType"] = "Runtime.ImportModuleError"
        err["errorMessage"] = f"Unable to import module 'functions.{reg.folder}.handler': {exc}"
        return json.dumps(err).encode(), "Unhandled"
    try:
        result = handler(event, context)
    except Exception as exc:
        LOG.debug("handler %s raised %s", reg.folder, type(exc).__name__, exc_info=True)
        # skip our own frame: like the runtime, the trace starts in the handler
        return json.dumps(error_payload(exc, context.aws_request_id, skip_frames=1)).encode(), "Unhandled"
    finally:
        # the next invocation runs in another request thread: this one's destination clients go back to the pool
        connections.release_thread()
    try:
        return json.dumps(result, default=_json_default).encode(), None
    except (TypeError, ValueError) as exc:
        err = {
            "errorMessage": f"Unable to marshal response: {exc}",
            "errorType": "Runtime.MarshalError",
            "requestId": context.aws_request_id,
            "stackTrace": [],
        }
        return json.dumps(err).encode(), "Unhandled"


_original_invoke = LambdaSimpleBackend.invoke
_installed = False


def _patched_invoke(
    self: LambdaSimpleBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> str | bytes | None:
    reg = REGISTRY.lookup(function_name)
    if reg is None:
        return _original_invoke(self, function_name, qualifier, body, headers, response_headers)
    self.get_function(function_name, qualifier)  # 404 for a function that is not deployed
    invocation_type = (headers or {}).get("X-Amz-Invocation-Type", "RequestResponse")
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event":
        threading.Thread(target=run_handler, args=(reg, body), daemon=True, name=f"lambda-event-{reg.folder}").start()
        return b""
    payload, function_error = run_handler(reg, body)
    response_headers["x-amz-executed-version"] = "$LATEST"
    if function_error:
        response_headers["x-amz-function-error"] = function_error
    return payload


def install() -> None:
    """Replace moto's simple Lambda invoke (idempotent)."""
    global _installed  # noqa: PLW0603
    if not _installed:
        LambdaSimpleBackend.invoke = _patched_invoke  # type: ignore[method-assign]
        _installed = True


def uninstall() -> None:
    global _installed  # noqa: PLW0603
    LambdaSimpleBackend.invoke = _original_invoke  # type: ignore[method-assign]
    _installed = False
