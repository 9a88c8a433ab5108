"""Local mode: the stand-ins, the embedded AWS (moto) and the deployed workflow, together.

Used by ``flitstack demo``, ``flitstack up`` and the workflow tests, so all three run the
same thing: stand-ins as separate HTTPS processes, the engine in this process, credentials
in (local) Secrets Manager, and migrations started as Step Functions executions.
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import sqlite3
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aws_lambda_powertools.utilities import parameters

from flitstack.local import polling
from flitstack.local.api_server import RunningApi, start_api_server
from flitstack.local.engine import LocalEngine
from infra import resources
from sandbox.serve import RunningStandin, start_standin, stop_standins
from shared import connections
from shared.connectors import registry
from shared.connectors.source import Source
from shared.domain import transform
from shared.executions import migration_start, rollback_start
from shared.heap import settle_heap
from shared.models import Endpoint, RunOptions, RunRef
from shared.pairs import pair_name, pairs
from shared.settings import get_approval_settings

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def local_environment(log_file: Path | None) -> None:
    """Process-wide settings for in-process Lambdas: logs to the run folder, no X-Ray/EMF on stdout."""
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "flitstack")
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        os.environ["FLITSTACK_LOG_FILE"] = str(log_file)


def demo_people(people: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The users a demo destination already has: most of the source's people, by e-mail, a few inactive,
    some missing (neutral shape; each destination's registry entry turns it into its users file).

    This is what a real org looks like before a migration, so owner matching, the fallback
    owner and the unmatched-technicians report all have something to show.
    """
    users = []
    for i, person in enumerate(sorted(people, key=lambda t: str(t["id"]))):
        email = str(person.get("email") or "").strip()
        if not email or i % 7 == 6:
            continue
        users.append({"first_name": person.get("first_name") or "", "last_name": person.get("last_name") or "Tech",
                      "email": email.lower(), "active": i % 10 != 9})
    return users


_HREF = re.compile(r'href="([^"]+)"')


def local_outbox() -> list[dict[str, Any]]:
    """Every message moto's SES accepted in this process (local mode's mail sink)."""
    from moto.core.models import DEFAULT_ACCOUNT_ID  # noqa: PLC0415 - local mode only
    from moto.ses.models import ses_backends  # noqa: PLC0415

    region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    out = []
    for message in list(ses_backends[DEFAULT_ACCOUNT_ID][region].sent_messages):
        body = str(getattr(message, "body", "") or "")
        links = [html.unescape(h) for h in _HREF.findall(body)]
        out.append({"id": message.id, "from": message.source, "to": message.destinations.get("ToAddresses", []),
                    "subject": getattr(message, "subject", ""), "links": {
                        "approve": next((u for u in links if "/approve?" in u), None),
                        "reject": next((u for u in links if "/reject?" in u), None),
                        "report": next((u for u in links if "/reports/" in u), None)},
                    "html": body})
    return out


@dataclass
class LocalRuntime:
    """Everything a local migration needs, started in order and stopped in reverse.

    Which stand-ins run comes from the registry: the source's and the destination's (``source`` and
    ``destination`` are registered kinds), each started as its own HTTPS process.
    """

    folder: Path
    records: int = 5000
    seed: int = 7
    tenant: Path | None = None
    #: Extra ``serve`` arguments of the source / destination stand-in (faults, quotas, permissions).
    source_args: list[str] = field(default_factory=list)
    destination_args: list[str] = field(default_factory=list)
    engine: LocalEngine | None = None
    dispatcher: dict[str, Any] | None = None
    #: Each destination call's deadline (the secret's ``timeout_s``).
    call_timeout_s: float = 120.0
    api: RunningApi | None = None
    #: Start the Slack stand-in too (sign-offs post their Approve / Reject buttons there).
    with_slack: bool = False
    slack: RunningStandin | None = None
    source: str = "sercom"
    #: The destination the local stack migrates into (a registered destination kind).
    destination: str = "salesforce"
    standins: dict[str, RunningStandin] = field(default_factory=dict)
    #: Start a second destination stand-in, a copy of the target made before any run (a sandbox), and
    #: give every run it as ``sample_destination``: the sample goes there, the target waits for approval.
    sample_environment: bool = False
    #: Where the engine keeps its AWS state on disk (DynamoDB's items); by default ``<folder>/aws-state``,
    #: so a later runtime on the same folder (``flitstack rollback RUN``) reads the run's state in place.
    state_dir: Path | None = None
    #: Settle the process's heap once the engine is up (``shared.heap.settle_heap``: what a Lambda does at its
    #: cold start), as `flitstack demo` / `up` and the bench do; a test process is left as it is (what is frozen is
    #: never collected, and a test worker starts many engines).
    settle_heap: bool = False

    @property
    def tls_dir(self) -> Path:
        return self.folder / "tls"

    @property
    def aws_state_dir(self) -> Path:
        return self.state_dir or self.folder / "aws-state"

    @property
    def source_standin(self) -> RunningStandin:
        return self.standins[self.source]

    @property
    def destination_standin(self) -> RunningStandin:
        return self.standins[self.destination]

    @property
    def sample_key(self) -> str:
        """The sample environment's name among the stand-ins and secrets (``salesforce-sandbox``)."""
        return f"{self.destination}-sandbox"

    @property
    def sample_standin(self) -> RunningStandin:
        return self.standins[self.sample_key]

    def start(self) -> LocalRuntime:
        dest_entry = registry.destination(self.destination)
        standins = self.folder / "standins"
        standins.mkdir(parents=True, exist_ok=True)
        source_args = ["--state", str(standins / f"{self.source}.sqlite"), "--tls-dir", str(self.tls_dir)]
        if self.tenant is not None:
            source_args += ["--tenant", str(self.tenant)]
        else:
            source_args += ["--records", str(self.records), "--seed", str(self.seed)]
        source_args += registry.source(self.source).standin_local_args
        self.standins[self.source] = start_standin(self.source, source_args + self.source_args)
        src = self.source_client()
        try:
            people = src.users()
        finally:
            src.close()
        dest_args = ["--state", str(standins / f"{self.destination}.sqlite"), "--tls-dir", str(self.tls_dir)]
        if dest_entry.standin_users is not None:
            users_file = standins / f"{self.destination}-users.json"
            users_file.write_text(json.dumps(dest_entry.standin_users(demo_people(people)), indent=1))
            dest_args += ["--users-file", str(users_file)]
        self.standins[self.destination] = start_standin(self.destination, dest_args + self.destination_args)
        if self.sample_environment:
            # a sandbox is a copy of production (same users, same seeded records), at its own address
            copy = standins / f"{self.sample_key}.sqlite"
            with sqlite3.connect(standins / f"{self.destination}.sqlite") as live, sqlite3.connect(copy) as into:
                live.backup(into)
            self.standins[self.sample_key] = start_standin(
                self.destination, ["--state", str(copy), "--tls-dir", str(self.tls_dir), *self.destination_args])
        if self.with_slack:
            self.slack = start_standin("slack", ["--state", str(standins / "slack.sqlite"),
                                                 "--tls-dir", str(self.tls_dir)])
        self.engine = LocalEngine(state_dir=self.aws_state_dir)
        self.engine.deploy(dispatcher=self.dispatcher)
        self._put_secrets()
        self._approvals_setup()
        if self.settle_heap:
            settle_heap()
        return self

    def _approvals_setup(self) -> None:
        """The deployment-wide approvals secret (link keys, Slack) and SES's verified sender."""
        assert self.engine is not None
        secret: dict[str, Any] = {"link_keys": [secrets.token_urlsafe(48)],
                                  "slack_signing_secret": secrets.token_hex(16)}
        if self.slack is not None:
            secret.update(slack_signing_secret=self.slack.info["signing_secret"],
                          slack_webhook_url=self.slack.info["webhook_url"], ca_pem=Path(self.slack.ca_path).read_text())
        self.engine.client("secretsmanager").create_secret(Name=get_approval_settings().approvals_secret,
                                                           SecretString=json.dumps(secret))
        self.engine.client("ses").verify_email_identity(EmailAddress=get_approval_settings().sender_address)
        parameters.clear_caches()  # type: ignore[no-untyped-call]

    def outbox(self) -> list[dict[str, Any]]:
        """The mail SES (moto) accepted, oldest first, with the links each message carries."""
        assert self.engine is not None
        return local_outbox()

    def source_client(self) -> Source:
        """A client of the source stand-in (tests and the CLI read the tenant through it)."""
        return registry.open_source(self.source, "local",
                                    registry.source(self.source).standin_secret(self.source_standin.info))

    def secret_name(self, kind: str) -> str:
        return f"flitstack/local/{kind}"

    def _put_secrets(self) -> None:
        assert self.engine is not None
        src = registry.source(self.source).standin_secret(self.source_standin.info)
        dest = {**registry.destination(self.destination).standin_secret(self.destination_standin.info),
                "timeout_s": self.call_timeout_s}
        secrets_by_name = {self.source: src, self.destination: dest}
        if self.sample_environment:
            secrets_by_name[self.sample_key] = {
                **registry.destination(self.destination).standin_secret(self.sample_standin.info),
                "timeout_s": self.call_timeout_s}
        sm = self.engine.client("secretsmanager")
        for kind, value in secrets_by_name.items():
            sm.create_secret(Name=self.secret_name(kind), SecretString=json.dumps(value))
        parameters.clear_caches()  # type: ignore[no-untyped-call]  # in-process Lambdas must not keep old secrets
        # ...nor specs cached by S3 key from an earlier engine, whose bucket may have held the same run id
        transform.clear_caches()

    def run_ref(self, run_id: str, options: RunOptions | None = None) -> RunRef:
        pair = pair_name(self.source, self.destination)
        if pair is None:
            raise ValueError(f"no pair migrates {self.source} into {self.destination} (pairs: {pairs()})")
        return RunRef(run_id=run_id, pair=pair,
                      source=Endpoint(kind=self.source, secret_name=self.secret_name(self.source)),
                      destination=Endpoint(kind=self.destination, secret_name=self.secret_name(self.destination)),
                      options=options or RunOptions(),
                      sample_destination=Endpoint(kind=self.destination, secret_name=self.secret_name(self.sample_key))
                      if self.sample_environment else None)

    def start_migration(self, run: RunRef) -> str:
        assert self.engine is not None
        start = migration_start(run)
        return self.engine.start_execution(resources.MIGRATE.logical_id, start.input, name=start.name)

    def start_rollback(self, run: RunRef | str) -> str:
        """Start the rollback machine for a run (the RunRef the migration ran with, or its id).

        Named and shaped as the API starts it (:func:`shared.executions.rollback_start`).
        """
        assert self.engine is not None
        start = rollback_start(self.run_ref(run) if isinstance(run, str) else run)
        return self.engine.start_execution(resources.ROLLBACK.logical_id, start.input, name=start.name)

    def start_api(self, api_key: str | None = None) -> dict[str, str]:
        """Serve the HTTP API (functions/api) on 127.0.0.1 with an API key; returns url and key.

        The key is local mode's stand-in for the cloud's IAM authorization (docs/api.md).
        """
        assert self.engine is not None and self.engine.stack is not None, "start() first"
        if self.api is None:
            self.api = start_api_server(api_key=api_key)
            # Approval links point here; the Slack stand-in posts button clicks here.
            os.environ["PUBLIC_API_URL"] = self.api.url
            if self.slack is not None:
                httpx.post(f"{self.slack.url}/__standin/config",
                           json={"interactivity_url": f"{self.api.url}/slack/actions"},
                           verify=self.slack.ca_path, trust_env=False, timeout=10).raise_for_status()
        return self.api.info()

    def wait(self, arn: str, timeout_s: float = 3600, on_tick: Callable[[], None] | None = None,
             poll_s: float = 0.5) -> dict[str, Any]:
        """DescribeExecution of ``arn`` once it has ended (``on_tick`` after every poll); polls slow down from
        0.05 s to ``poll_s`` apart (:mod:`flitstack.local.polling`). TimeoutError after ``timeout_s``."""
        engine = self.engine
        assert engine is not None

        def probe() -> dict[str, Any]:
            desc = engine.describe(arn)
            if on_tick is not None:
                on_tick()
            return desc

        return polling.poll(probe, lambda desc: desc["status"] in TERMINAL, timeout_s=timeout_s, longest_s=poll_s,
                            describe=lambda desc: f"execution {arn} {desc['status']}")

    def download_reports(self, run_id: str, target: Path) -> list[Path]:
        """Copy the run's reports from the data bucket into the run folder."""
        assert self.engine is not None and self.engine.stack is not None
        s3 = self.engine.client("s3")
        bucket = self.engine.stack.bucket
        target.mkdir(parents=True, exist_ok=True)
        out = []
        prefix = f"runs/{run_id}/reports/"
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                path = target / obj["Key"][len(prefix):]
                path.write_bytes(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
                out.append(path)
        return out

    def stop(self) -> None:
        if self.api is not None:
            self.api.stop()
            self.api = None
        if self.engine is not None:
            self.engine.stop()
        connections.close_all()
        stop_standins([s for s in [self.slack, *self.standins.values()] if s is not None])
        self.standins.clear()

    def __enter__(self) -> LocalRuntime:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
