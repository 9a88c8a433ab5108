"""Speed patches for moto 5.2.5's Step Functions interpreter (pure performance, no behaviour change).

1. ``boto_client_for``: the interpreter builds a brand-new boto3 client for every Task state,
   every ItemReader read and every aws-sdk call (~10 ms of botocore model loading each time,
   GIL-bound). We cache one client per (region, service, endpoint) and talk to 127.0.0.1
   directly (``localhost`` may resolve to ::1 first).
2. JSONPath: ``jsonpath_ng.parse`` (a PLY parser) runs on every path evaluation; we memoise it.
   Parsed expressions are immutable once built, so sharing them across threads is safe.

3. The server's per-request routing: ``DomainDispatcherApplication.get_backend_for_host`` lists moto's
   package folder (``os.listdir`` plus ~150 ``isdir`` calls) and then tries every service's URL
   regex, for every request, under the dispatcher's one lock (8 % of a workflow test's samples).
   The answer depends only on the host (the folder and the patterns are fixed), so we memoise it
   per host.

4. DynamoDB's item-carrying responses (Query, Scan, GetItem, BatchGetItem, PutItem, BatchWriteItem): moto
   5.2 renders every response by walking botocore's output shape value by value (an ``AttributeValue``
   structure per attribute, an alias lookup per member): about a third of a Query's or a BatchWriteItem's
   time. For these operations moto's result is already the wire JSON (``DynamoResult`` holds plain typed
   values), so it is written with ``json.dumps``. A result holding bytes (a binary attribute, which the
   shape walk base64-encodes) or anything else ``json`` cannot write keeps moto's serializer; a test
   compares both renderings for every attribute type.

5. The state machine's definition: moto parses the ASL (an ANTLR grammar, pure Python) when a state machine is
   created, to validate it, and again at every execution's start; a local stack creates every workflow and a run
   starts several executions, so parsing was about 4 % of a workflow test's engine samples. The parse tree of a
   definition is remembered (successful parses only: a definition that does not parse raises as before) and
   moto's preprocessor builds fresh evaluation components from it on every call, so no execution shares
   components with another; the preprocessor only reads the tree.

All are applied by rebinding module or class attributes, so they are reversible and do not touch files.
"""

from __future__ import annotations

import functools
import json
import sys
import threading
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from moto.core.models import botocore_stubber
from moto.core.responses import ActionResult
from moto.dynamodb.responses import DynamoHandler, DynamoResult
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.settings import moto_server_port
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.parser.asl.utils import boto_client, json_path

# Importing the preprocessor (above) pulls in every state component, i.e. every module that did
# ``from ...boto_client import boto_client_for``; install() rebinds the name in each of them.

MOTO_VERSION = "5.2.5"

_lock = threading.Lock()
_clients: dict[tuple[str, str, str], BaseClient] = {}
_session: boto3.session.Session | None = None
_saved: list[tuple[Any, str, Any]] = []  # (module, attribute, original) for uninstall


def _cached_boto_client_for(region: str, service: str, state_credentials: Any = None) -> BaseClient:
    endpoint = "" if botocore_stubber.enabled else f"http://127.0.0.1:{moto_server_port()}"
    key = (region, service, endpoint)
    client = _clients.get(key)
    if client is not None:
        return client
    global _session  # noqa: PLW0603
    with _lock:  # client creation from one session is not thread-safe
        client = _clients.get(key)
        if client is None:
            if _session is None:
                _session = boto3.session.Session()
            kwargs = {"endpoint_url": endpoint} if endpoint else {}
            client = _session.client(
                service_name=service,
                region_name=region,
                aws_access_key_id="ak",
                aws_secret_access_key="sk",  # noqa: S106 - moto's fixed fake credentials
                config=Config(
                    parameter_validation=False,
                    retries={"max_attempts": 0, "total_max_attempts": 1},
                    connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                    read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                    max_pool_connections=64,
                ),
                **kwargs,
            )
            _clients[key] = client
    return client


def clear_client_cache() -> None:
    with _lock:
        _clients.clear()


_backend_for_host = DomainDispatcherApplication.get_backend_for_host
_backends_by_host: dict[str | None, Any] = {}


def _cached_backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
    """moto's answer for ``host``, computed once per host (it reads only fixed data: the package, the URL patterns)."""
    try:
        return _backends_by_host[host]
    except KeyError:
        backend = _backends_by_host[host] = _backend_for_host(self, host)
        return backend


#: DynamoDB operations whose results are rendered as plain JSON (patch 4).
PLAIN_JSON_OPERATIONS = ("query", "scan", "get_item", "batch_get_item", "put_item", "batch_write_item")


#: moto's own actions, before any patch (the patches wrap these).
ORIGINAL_DYNAMODB_ACTIONS = {name: DynamoHandler.__dict__[name] for name in PLAIN_JSON_OPERATIONS}


def _no_none(value: Any) -> Any:
    """Members set to None are left out, as moto's serializer leaves them out."""
    if isinstance(value, dict):
        return {k: _no_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_no_none(v) for v in value]
    return value


def _plain_json(original: Any) -> Any:
    @functools.wraps(original)
    def action(self: DynamoHandler) -> Any:
        result = original(self)
        if type(result) in (ActionResult, DynamoResult) and isinstance(result.result, dict):
            try:
                return json.dumps(_no_none(result.result), separators=(",", ":"))
            except (TypeError, ValueError):  # bytes (a binary attribute): moto's serializer encodes them
                return result
        return result
    return action


_moto_parse = AmazonStateLanguageParser.parse


@functools.lru_cache(maxsize=64)
def _asl_tree(definition: str) -> Any:
    """The parse tree of ``definition`` (moto's parse, which raises ``ASLParserException`` on a syntax error)."""
    return _moto_parse(definition)[1]


def _parse_asl(definition: str) -> tuple[EvalComponent, Any]:
    """``AmazonStateLanguageParser.parse``: fresh evaluation components over the remembered tree."""
    tree = _asl_tree(definition)
    return Preprocessor().visit(tree), tree


def _rebind(module: Any, attr: str, new: Any) -> None:
    _saved.append((module, attr, getattr(module, attr)))
    setattr(module, attr, new)


def install() -> None:
    """Apply the patches (idempotent)."""
    if _saved:
        return
    original = boto_client.boto_client_for
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions") and getattr(module, "boto_client_for", None) is original:
            _rebind(module, "boto_client_for", _cached_boto_client_for)

    for module in (json_path, result_path):
        _rebind(module, "parse", functools.lru_cache(maxsize=4096)(getattr(module, "parse")))  # noqa: B009
    _rebind(DomainDispatcherApplication, "get_backend_for_host", _cached_backend_for_host)
    _rebind(AmazonStateLanguageParser, "parse", staticmethod(_parse_asl))
    for name in PLAIN_JSON_OPERATIONS:
        _rebind(DynamoHandler, name, _plain_json(getattr(DynamoHandler, name)))


def uninstall() -> None:
    while _saved:
        module, attr, original = _saved.pop()
        setattr(module, attr, original)
    clear_client_cache()
