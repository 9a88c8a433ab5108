"""What a run asks of AWS, metered at the local engine's door, for the cloud projection (``bench/projection.py``).

Every AWS call of a local run (the handlers' boto3 clients, moto's Step Functions interpreter invoking the Lambdas)
goes through the one embedded moto server. ``Meter`` wraps that server's WSGI application for the length of a
``with`` block and counts, per service and operation, the requests and what AWS bills for them:

- Lambda: invocations and the seconds each function ran (the handler runs inside the Invoke request, see
  :mod:`flitstack.local.dispatch`), so GB-seconds follow from the function's configured memory;
- DynamoDB: write and read request units (on-demand billing: an item written is one WRU per KB, twice in a
  transaction; a key read is one RRU; a Query or Scan page costs one RRU per 4 KB it returns, strongly
  consistent — an upper bound, eventually consistent reads cost half);
- S3: requests by price tier (PUT, COPY, POST, LIST are tier 1; GET and the rest tier 2).

- Step Functions: state transitions, the states the interpreter enters (a STANDARD workflow is billed per
  transition). They are counted where moto's interpreter records its history events, because the child
  executions of a Distributed Map keep theirs in an event log moto does not expose.
"""

from __future__ import annotations

import io
import json
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import unquote

from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/")
_INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations")
#: Tier-1 S3 requests (the dearer price): writes and listings.
S3_TIER1 = frozenset({"PUT", "POST", "COPY", "LIST"})
KB, RRU_BYTES = 1024, 4096


@dataclass
class Usage:
    """Counters for one run; every figure is a total over the metered block."""

    requests: Counter[str] = field(default_factory=Counter)  # "service operation" -> requests
    lambda_invocations: Counter[str] = field(default_factory=Counter)  # function name -> invocations
    lambda_seconds: dict[str, float] = field(default_factory=dict)  # function name -> seconds run
    dynamodb_wru: int = 0
    dynamodb_rru: int = 0
    s3_tier1: int = 0
    s3_tier2: int = 0
    state_transitions: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"requests": dict(sorted(self.requests.items())),
                "lambda_invocations": dict(sorted(self.lambda_invocations.items())),
                "lambda_seconds": {k: round(v, 3) for k, v in sorted(self.lambda_seconds.items())},
                "dynamodb_wru": self.dynamodb_wru, "dynamodb_rru": self.dynamodb_rru,
                "s3_tier1": self.s3_tier1, "s3_tier2": self.s3_tier2, "state_transitions": self.state_transitions}


def _service(environ: dict[str, Any]) -> str:
    target = str(environ.get("HTTP_X_AMZ_TARGET") or "")
    if target.startswith("DynamoDB_"):
        return "dynamodb"
    if target.startswith("AWSStepFunctions"):
        return "states"
    found = _SCOPE.search(str(environ.get("HTTP_AUTHORIZATION") or ""))
    return found.group(1) if found else "other"


def _s3_operation(environ: dict[str, Any]) -> str:
    method = str(environ.get("REQUEST_METHOD") or "GET")
    query = str(environ.get("QUERY_STRING") or "")
    path = str(environ.get("PATH_INFO") or "/").strip("/")
    if method == "PUT" and environ.get("HTTP_X_AMZ_COPY_SOURCE"):
        return "COPY"
    if method == "GET" and ("list-type" in query or "/" not in path):
        return "LIST"
    return method


def _function_name(path: str) -> str:
    """The function an Invoke path names (by name or by ARN, qualifier dropped)."""
    found = _INVOKE.match(path)
    assert found is not None
    name = unquote(found.group(1))
    if ":function:" in name:
        name = name.split(":function:", 1)[1]
    return name.split(":", 1)[0]


def _item_kib(item: dict[str, Any]) -> int:
    """Write units of one item: its size in KB, rounded up (names and values, as DynamoDB sizes them)."""
    return max(1, math.ceil(len(json.dumps(item, separators=(",", ":"))) / KB))


def _dynamodb_units(operation: str, body: dict[str, Any]) -> tuple[int, int]:
    """(WRU, RRU) a request costs that can be told from the request alone."""
    if operation == "BatchWriteItem":
        wru = sum(_item_kib(r.get("PutRequest", {}).get("Item") or r.get("DeleteRequest", {}).get("Key") or {})
                  for requests in body.get("RequestItems", {}).values() for r in requests)
        return wru, 0
    if operation == "BatchGetItem":
        return 0, sum(len(t.get("Keys", [])) for t in body.get("RequestItems", {}).values())
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        return _item_kib(body.get("Item") or body.get("Key") or {}), 0
    if operation == "TransactWriteItems":
        return 2 * len(body.get("TransactItems", [])), 0
    if operation == "GetItem":
        return 0, 1
    return 0, 0


class Meter:
    """``with Meter() as usage:`` counts what the embedded moto server serves inside the block."""

    def __init__(self) -> None:
        self.usage = Usage()
        self._lock = threading.Lock()
        self._original: Callable[..., Any] | None = None
        self._add_event: Callable[..., int] | None = None

    def __enter__(self) -> Usage:
        original = DomainDispatcherApplication.__call__
        self._original = original
        meter = self

        def metered(app: Any, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            return meter._serve(original, app, environ, start_response)

        DomainDispatcherApplication.__call__ = metered  # type: ignore[method-assign,assignment]
        add_event = EventManager.add_event
        self._add_event = add_event

        def counted(manager: EventManager, context: Any, event_type: Any, *args: Any, **kwargs: Any) -> int:
            if str(getattr(event_type, "value", event_type)).endswith("StateEntered"):
                with meter._lock:
                    meter.usage.state_transitions += 1
            return add_event(manager, context, event_type, *args, **kwargs)

        EventManager.add_event = counted  # type: ignore[method-assign,assignment]
        return self.usage

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._original is not None:
            DomainDispatcherApplication.__call__ = self._original  # type: ignore[method-assign]
        if self._add_event is not None:
            EventManager.add_event = self._add_event  # type: ignore[method-assign]

    def _serve(self, original: Callable[..., Any], app: Any, environ: dict[str, Any],
               start_response: Callable[..., Any]) -> Iterable[bytes]:
        service = _service(environ)
        wru = rru = 0
        operation = ""
        if service == "dynamodb":
            operation = str(environ.get("HTTP_X_AMZ_TARGET", "")).split(".", 1)[-1]
            raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(raw)
            wru, rru = _dynamodb_units(operation, json.loads(raw or b"{}"))
        elif service == "s3":
            operation = _s3_operation(environ)
        elif service == "lambda":
            invoked = _INVOKE.match(str(environ.get("PATH_INFO") or ""))
            operation = "Invoke" if invoked else str(environ.get("REQUEST_METHOD"))
        else:
            operation = str(environ.get("HTTP_X_AMZ_TARGET", "")).split(".", 1)[-1] or str(
                environ.get("REQUEST_METHOD"))
        started = time.perf_counter()
        body: Iterable[bytes] = original(app, environ, start_response)  # the handler has run: the response is made
        seconds = time.perf_counter() - started
        if operation in ("Query", "Scan"):
            body = list(body)
            rru = max(1, math.ceil(sum(len(chunk) for chunk in body) / RRU_BYTES))
        with self._lock:
            u = self.usage
            u.requests[f"{service} {operation}"] += 1
            u.dynamodb_wru += wru
            u.dynamodb_rru += rru
            if service == "s3":
                if operation in S3_TIER1:
                    u.s3_tier1 += 1
                else:
                    u.s3_tier2 += 1
            if service == "lambda" and operation == "Invoke":
                name = _function_name(str(environ.get("PATH_INFO")))
                u.lambda_invocations[name] += 1
                u.lambda_seconds[name] = u.lambda_seconds.get(name, 0.0) + seconds
        return body
