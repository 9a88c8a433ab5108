"""FlitStack's local engine: the real ASL on moto's Step Functions interpreter, Lambdas in-process.

    with LocalEngine() as engine:
        stack = engine.deploy()
        arn = engine.start_execution("MigrateStateMachine", {"run_id": "r1"})
        result = engine.wait(arn, timeout_s=120)

moto runs in server mode on 127.0.0.1 in a thread of this process; moto's interpreter calls
back into that server for every Task, and Lambda invokes are dispatched in-process to
``functions/<folder>/handler.py`` (see :mod:`flitstack.local.dispatch`). Every resource name is
derived from ``infra/resources.py`` (see :mod:`flitstack.local.naming`). moto's state is
process-global: run one engine per process at a time.

DynamoDB items live on disk, in ``<state_dir>/dynamodb.sqlite`` (:mod:`flitstack.local.disk_dynamodb`):
an engine started on the state directory of an earlier one finds its tables' items again once it has
deployed. Without ``state_dir`` the engine uses a temporary directory, removed when it stops.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import signal
import socket
import tempfile
import threading
import urllib.request
import uuid
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from moto.dynamodb.models import dynamodb_backends
from moto.moto_server import threaded_moto_server
from moto.moto_server.werkzeug_app import create_backend_app
from moto.server import ThreadedMotoServer

from flitstack.local import disk_dynamodb, disk_s3, dispatch, heap, naming, patches, polling, tracking
from infra import resources
from infra.resources import FunctionDef, StateMachineDef, TableDef

LOG = logging.getLogger(__name__)

MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
SERVICE_NAME = "flitstack"

_TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}

# The port of the previous engine in this process. A later engine with ``port=0`` reuses it when
# it is free, so boto3 clients that handlers cached at module level (built from
# AWS_ENDPOINT_URL) keep pointing at a live server across engine restarts, e.g. between tests.
_last_port = 0


def _backend_app(service: Any) -> Any:
    """moto's Flask app for ``service``, out of Flask's debug mode (D-058).

    moto 5.2.5 turns debug mode on for every service's app, and in debug mode Flask gives each request
    without a multipart body a ``files`` dict whose class closes over the request (``flask.debughelpers.
    attach_enctype_error_multidict``): a reference cycle holding the request and its whole body (a PUT's
    object, a BatchWriteItem's items) until the cyclic garbage collector's next full pass, which a process
    holding millions of objects runs rarely. Measured: each 40 MiB PUT stayed resident until then."""
    app = create_backend_app(service)
    app.debug = False
    return app


@dataclass(frozen=True)
class FixtureStateMachine:
    """A state machine whose ASL lives outside ``infra/statemachines`` (tests, experiments).

    Duck-types :class:`infra.resources.StateMachineDef` so ``render_asl`` accepts it.
    """

    logical_id: str
    asl_path: Path
    functions: tuple[str, ...] = ()

    @property
    def asl_file(self) -> str:
        return self.asl_path.name

    @property
    def path(self) -> Path:
        return self.asl_path


@dataclass(frozen=True)
class DeployedStack:
    """What ``deploy()`` created; also the payload of the ``serve_forever`` endpoint file."""

    endpoint_url: str
    region: str
    tables: dict[str, str]  # TableDef.logical_id -> table name
    bucket: str
    function_names: dict[str, str]  # folder -> function name
    function_arns: dict[str, str]  # folder -> function ARN
    state_machine_arns: dict[str, str]  # StateMachineDef.logical_id -> ARN
    environment: dict[str, str] = field(default_factory=dict)  # env vars every handler sees

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeployedStack:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def load_endpoint(path: str | os.PathLike[str]) -> DeployedStack:
    """Read the endpoint file written by :meth:`LocalEngine.serve_forever` (for the CLI)."""
    data = json.loads(Path(path).read_text())
    return DeployedStack.from_dict(data["stack"])


def _dummy_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()




class LocalEngine:
    """Embedded moto server + deployed FlitStack resources + in-process Lambda dispatch."""

    def __init__(
        self,
        *,
        port: int = 0,
        prefix: str = naming.LOCAL_PREFIX,
        region: str = naming.LOCAL_REGION,
        speed_patches: bool = True,
        interpreter_log_level: int = logging.CRITICAL,
        state_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.port = port  # 0: let the OS pick a free one
        #: Where the AWS state is kept on disk (DynamoDB's items); None: a temporary directory per start.
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self._temp_state_dir: Path | None = None
        self.prefix = prefix
        self.region = region
        self.speed_patches = speed_patches
        # moto's interpreter logs every failed state (even caught/retried ones) at ERROR with
        # multi-kilobyte reprs; the execution history carries the same facts.
        self.interpreter_log_level = interpreter_log_level
        self.endpoint_url = ""
        self.stack: DeployedStack | None = None
        self._server: Any = None
        self._saved_env: dict[str, str | None] = {}
        self._clients: dict[str, BaseClient] = {}
        self._stop_event = threading.Event()
        self._s3_folder: Path | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> LocalEngine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> str:
        """Start moto on 127.0.0.1 in a thread, set the process env, configure moto. Returns the URL."""
        if self._server is not None:
            return self.endpoint_url
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        logging.getLogger("moto.stepfunctions.parser").setLevel(self.interpreter_log_level)
        dispatch.install()
        # every invocation runs in a thread of this process: few malloc arenas (heap.py, D-056)
        heap.limit_arenas()
        heap.mmap_large_blocks()
        # requests freed when answered, not at the garbage collector's next full pass (D-058)
        setattr(threaded_moto_server, "create_backend_app", _backend_app)  # noqa: B010 (not exported)
        # moto's register of every model instance ever made, held weakly (flitstack.local.tracking)
        tracking.install()
        # S3 bodies past a few KB live in files under this folder, none held open (flitstack.local.disk_s3):
        # batches, load-ready batches and copied files do not grow this process with the tenant.
        self._s3_folder = Path(tempfile.mkdtemp(prefix="flitstack-s3-"))
        disk_s3.install(self._s3_folder)
        if self.speed_patches:
            patches.install()
        else:
            patches.uninstall()
        if self.state_dir is None:
            self._temp_state_dir = Path(tempfile.mkdtemp(prefix="flitstack-aws-"))
        disk_dynamodb.install(self.aws_state_dir / disk_dynamodb.FILE_NAME)
        try:
            server = self._start_server(ThreadedMotoServer)
        except BaseException:
            self._release_state()
            raise
        self._server = server
        host, port = server.get_host_and_port()
        self.port = port
        global _last_port  # noqa: PLW0603
        _last_port = port
        self.endpoint_url = f"http://{host}:{port}"
        self._set_env(self.base_environment())
        self._post("/moto-api/config", MOTO_CONFIG)
        self._stop_event.clear()
        return self.endpoint_url

    def _start_server(self, server_cls: Any) -> Any:
        candidates = [self.port] if self.port else ([_last_port, 0] if _last_port else [0])
        for port in candidates:
            try:
                socket_probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socket_probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug does
                try:
                    socket_probe.bind(("127.0.0.1", port))
                finally:
                    socket_probe.close()
            except OSError:
                if port == candidates[-1]:
                    raise
                continue
            # (a bind error inside moto's server thread would hang start(), hence the probe above)
            server = server_cls(ip_address="127.0.0.1", port=port, verbose=False)
            server.start()
            return server
        raise RuntimeError("unreachable")

    def base_environment(self) -> dict[str, str]:
        """Process-wide env for the handlers' boto3 clients and moto's interpreter."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "MOTO_PORT": str(self.port),  # moto's interpreter calls localhost:$MOTO_PORT
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ACCOUNT_ID": naming.LOCAL_ACCOUNT_ID,
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": "FlitStack",
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon locally
            "POWERTOOLS_METRICS_DISABLED": "true",  # no EMF blobs on stdout
            "FLITSTACK_LOCAL": "1",
        }

    def stop(self) -> None:
        """Reset moto's state, shut the server down and restore the process environment."""
        self._stop_event.set()
        if self._server is None:
            return
        try:
            self._post("/moto-api/reset", {})
        except Exception:  # the server may already be unreachable
            LOG.debug("moto reset failed", exc_info=True)
        self._server.stop()
        if getattr(self._server, "_server", None) is not None:
            self._server._server.server_close()  # release the port (moto's stop() leaves it bound)
        self._server = None
        disk_s3.uninstall()
        tracking.uninstall()
        if self._s3_folder is not None:
            shutil.rmtree(self._s3_folder, ignore_errors=True)  # the reset disposed of every body already
            self._s3_folder = None
        self._release_state()
        dispatch.REGISTRY.clear()
        patches.clear_client_cache()
        self._clients.clear()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        self.stack = None

    def _set_env(self, env: Mapping[str, str]) -> None:
        for key, value in env.items():
            if key not in self._saved_env:
                self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value
        if "AWS_PROFILE" in os.environ:  # a real profile must never be consulted
            self._saved_env.setdefault("AWS_PROFILE", os.environ["AWS_PROFILE"])
            del os.environ["AWS_PROFILE"]

    def _post(self, path: str, body: Mapping[str, Any]) -> None:
        req = urllib.request.Request(  # noqa: S310 - loopback URL we built ourselves
            self.endpoint_url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
            resp.read()

    @property
    def aws_state_dir(self) -> Path:
        """The directory of this engine's on-disk AWS state (``state_dir``, or the temporary one)."""
        path = self.state_dir or self._temp_state_dir
        if path is None:
            raise RuntimeError("LocalEngine.start() first (the temporary state directory is made on start)")
        return path

    def _release_state(self) -> None:
        disk_dynamodb.uninstall()
        if self._temp_state_dir is not None:
            shutil.rmtree(self._temp_state_dir, ignore_errors=True)
            self._temp_state_dir = None

    def table_items(self, table_name: str, hash_value: str | None = None) -> Iterator[dict[str, Any]]:
        """The items of one table (those of one partition key value, if given) in key order, in DynamoDB
        JSON, read in place from the disk store a chunk at a time (inspection; nothing is held)."""
        table = dynamodb_backends[naming.LOCAL_ACCOUNT_ID][self.region].get_table(table_name)
        if not isinstance(table, disk_dynamodb.DiskTable):
            raise RuntimeError(f"{table_name} was not created by this engine's DynamoDB disk store")
        yield from table.items_json(hash_value)

    def client(self, service: str) -> BaseClient:
        """A boto3 client for the local endpoint (cached per service)."""
        if not self.endpoint_url:
            raise RuntimeError("LocalEngine.start() first")
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service,
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",  # noqa: S106
                config=Config(retries={"max_attempts": 2}, max_pool_connections=32),
            )
        return self._clients[service]

    # -- deploy --------------------------------------------------------------------------------
    def function_environment(self, fn: FunctionDef, extra_env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The env vars a function gets: its tables, the data bucket, Powertools, ``extra_env``."""
        tables = {t.logical_id: t for t in resources.TABLES}
        env = {
            naming.table_env_var(tables[t]): naming.table_name(tables[t], self.prefix) for t in fn.tables if t in tables
        }
        env[naming.DATA_BUCKET_ENV] = naming.bucket_name(self.prefix)
        env["POWERTOOLS_SERVICE_NAME"] = SERVICE_NAME
        env.update(extra_env or {})
        return env

    def deploy(
        self,
        *,
        functions: Iterable[FunctionDef] | None = None,
        extra_functions: Iterable[FunctionDef] = (),
        state_machines: Iterable[StateMachineDef | FixtureStateMachine] | None = None,
        extra_state_machines: Iterable[StateMachineDef | FixtureStateMachine] = (),
        dispatcher: Mapping[str, dispatch.Handler] | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> DeployedStack:
        """Create tables, bucket, functions and state machines from ``infra/resources.py``.

        ``functions``/``state_machines`` replace the defaults, ``extra_*`` add to them.
        ``dispatcher`` maps a function folder to a callable ``(event, context)`` that runs instead
        of ``functions.<folder>.handler``. ``extra_env`` is added to every function's environment.
        """
        self.start()
        fns = [*(resources.FUNCTIONS if functions is None else functions), *extra_functions]
        sms = [*(resources.STATE_MACHINES if state_machines is None else state_machines), *extra_state_machines]
        dispatcher = dict(dispatcher or {})

        self._create_roles()
        tables = {t.logical_id: self._create_table(t) for t in resources.TABLES}
        bucket = naming.bucket_name(self.prefix)
        self.client("s3").create_bucket(Bucket=bucket)

        # The API function starts the workflows: it gets their ARNs, as the stack gives them.
        machine_env = {
            resources.state_machine_arn_env(sm.logical_id): naming.state_machine_arn(
                cast(StateMachineDef, sm), self.prefix, self.region
            )
            for sm in sms
        }
        env_union: dict[str, str] = {}
        names: dict[str, str] = {}
        arns: dict[str, str] = {}
        for fn in fns:
            starts = machine_env if fn.folder == resources.API_FOLDER else {
                resources.state_machine_arn_env(m): machine_env[resources.state_machine_arn_env(m)] for m in fn.starts}
            fn_env = {**starts, **(extra_env or {})}
            env = self.function_environment(fn, fn_env)
            env_union.update(env)
            names[fn.folder] = naming.function_name(fn, self.prefix)
            arns[fn.folder] = self.add_function(fn, handler=dispatcher.get(fn.folder), env=env)

        variables = resources.asl_variables(arns, bucket)
        sfn = self.client("stepfunctions")
        sm_arns: dict[str, str] = {}
        for sm in sms:
            definition = resources.render_asl(cast(StateMachineDef, sm), variables)
            resp = sfn.create_state_machine(
                name=naming.state_machine_name(cast(StateMachineDef, sm), self.prefix),
                definition=definition,
                roleArn=naming.role_arn("states", self.prefix),
                type="STANDARD",
            )
            sm_arns[sm.logical_id] = resp["stateMachineArn"]
            expected = machine_env[resources.state_machine_arn_env(sm.logical_id)]
            if sm_arns[sm.logical_id] != expected:
                raise RuntimeError(f"{sm.logical_id}: moto named it {sm_arns[sm.logical_id]}, expected {expected}")

        self.stack = DeployedStack(
            endpoint_url=self.endpoint_url,
            region=self.region,
            tables=tables,
            bucket=bucket,
            function_names=names,
            function_arns=arns,
            state_machine_arns=sm_arns,
            environment={**self.base_environment(), **env_union},
        )
        return self.stack

    def add_function(
        self, fn: FunctionDef, handler: dispatch.Handler | None = None, env: Mapping[str, str] | None = None
    ) -> str:
        """Create one Lambda function and route its invocations in-process; returns its ARN.

        ``handler`` runs instead of ``functions.<fn.folder>.handler`` (imported on first call).
        ``env`` defaults to :meth:`function_environment`; it is also set process-wide.
        """
        env = dict(env if env is not None else self.function_environment(fn))
        name = naming.function_name(fn, self.prefix)
        resp = self.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=naming.role_arn("lambda", self.prefix),
            Handler="handler.handler",
            Code={"ZipFile": _dummy_zip()},
            MemorySize=fn.memory_mb,
            Timeout=fn.timeout_s,
            Environment={"Variables": env},
        )
        arn = str(resp["FunctionArn"])
        dispatch.REGISTRY.register(
            dispatch.Registration(
                folder=fn.folder,
                function_name=name,
                function_arn=arn,
                memory_mb=fn.memory_mb,
                timeout_s=fn.timeout_s,
                handler=handler,
            )
        )
        # Handlers run in moto's worker threads, in this process: their env must be process-wide.
        self._set_env(env)
        return arn

    def _create_roles(self) -> None:
        iam = self.client("iam")
        for kind, principal in (("lambda", "lambda.amazonaws.com"), ("states", "states.amazonaws.com")):
            policy = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}],
            }
            with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
                iam.create_role(RoleName=f"{self.prefix}-{kind}-role", AssumeRolePolicyDocument=json.dumps(policy))

    def _create_table(self, table: TableDef) -> str:
        name = naming.table_name(table, self.prefix)
        keys = [(table.partition_key, "HASH", table.partition_key_type)]
        if table.sort_key:
            keys.append((table.sort_key, "RANGE", table.sort_key_type))
        ddb = self.client("dynamodb")
        ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": k, "KeyType": kt} for k, kt, _ in keys],
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": t} for k, _, t in keys],
            BillingMode="PAY_PER_REQUEST",
        )
        if table.ttl_attribute:
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )
        return name

    # -- executions ----------------------------------------------------------------------------
    def state_machine_arn(self, logical_id: str) -> str:
        if self.stack is None:
            raise RuntimeError("LocalEngine.deploy() first")
        try:
            return self.stack.state_machine_arns[logical_id]
        except KeyError:
            deployed = sorted(self.stack.state_machine_arns)
            raise KeyError(f"no state machine {logical_id!r}; deployed: {deployed}") from None

    def start_execution(self, state_machine_logical_id: str, input: Any = None, name: str | None = None) -> str:
        """Start an execution; returns its ARN. ``input`` is JSON-serialised (dict or str)."""
        payload = input if isinstance(input, str) else json.dumps({} if input is None else input)
        resp = self.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn(state_machine_logical_id),
            name=name or uuid.uuid4().hex,
            input=payload,
        )
        return str(resp["executionArn"])

    def describe(self, execution_arn: str) -> dict[str, Any]:
        return dict(self.client("stepfunctions").describe_execution(executionArn=execution_arn))

    def wait(self, execution_arn: str, timeout_s: float = 60.0, poll_s: float = 0.25) -> dict[str, Any]:
        """Poll until the execution leaves RUNNING (0.05 s, then twice as long each time up to ``poll_s``);
        returns DescribeExecution. TimeoutError otherwise."""
        return polling.poll(lambda: self.describe(execution_arn), lambda desc: desc["status"] in _TERMINAL,
                            timeout_s=timeout_s, longest_s=poll_s,
                            describe=lambda desc: f"{execution_arn} {desc['status']}")

    def run(
        self, state_machine_logical_id: str, input: Any = None, *, name: str | None = None, timeout_s: float = 60.0
    ) -> dict[str, Any]:
        """start_execution + wait."""
        return self.wait(self.start_execution(state_machine_logical_id, input, name), timeout_s)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        """The execution's events (moto returns one page; map item executions are not listed)."""
        sfn = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn}
        while True:
            resp = sfn.get_execution_history(**kwargs)
            events.extend(resp.get("events", []))
            token = resp.get("nextToken")
            if not token:
                return events
            kwargs["nextToken"] = token

    def map_runs(self, execution_arn: str) -> list[dict[str, Any]]:
        """DescribeMapRun for every Distributed Map run of the execution (itemCounts etc.)."""
        sfn = self.client("stepfunctions")
        runs = sfn.list_map_runs(executionArn=execution_arn).get("mapRuns", [])
        return [dict(sfn.describe_map_run(mapRunArn=r["mapRunArn"])) for r in runs]

    def send_task_success(self, task_token: str, output: Any) -> None:
        out = output if isinstance(output, str) else json.dumps(output)
        self.client("stepfunctions").send_task_success(taskToken=task_token, output=out)

    def send_task_failure(self, task_token: str, error: str = "", cause: str = "") -> None:
        self.client("stepfunctions").send_task_failure(taskToken=task_token, error=error, cause=cause)

    def send_task_heartbeat(self, task_token: str) -> None:
        self.client("stepfunctions").send_task_heartbeat(taskToken=task_token)

    # -- long-lived mode -----------------------------------------------------------------------
    def serve_forever(self, endpoint_file: str | os.PathLike[str], **deploy_kwargs: Any) -> None:
        """Start + deploy (unless done), write the endpoint file, block until stopped.

        Stops on SIGINT/SIGTERM (when called from the main thread) or :meth:`request_stop`;
        then removes the endpoint file and shuts the server down.
        """
        self.start()
        stack = self.stack or self.deploy(**deploy_kwargs)
        path = Path(endpoint_file)
        info = {"pid": os.getpid(), "endpoint_url": self.endpoint_url, "stack": stack.to_dict()}
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as tmp:
            json.dump(info, tmp, indent=2)
        os.replace(tmp.name, path)  # atomic: readers never see a half-written file

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: self._stop_event.set())
        try:
            while not self._stop_event.wait(0.5):
                pass
        finally:
            path.unlink(missing_ok=True)
            self.stop()

    def request_stop(self) -> None:
        """Make a running :meth:`serve_forever` return."""
        self._stop_event.set()
