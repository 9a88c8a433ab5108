"""Local mode: the stand-ins, the embedded AWS (moto) and the deployed workflow, together.

Used by ``flitstack demo``, ``flitstack up`` and the workflow tests, so all three run the
same thing: stand-ins as separate HTTPS processes, the engine in this process, credentials
in (local) Secrets Manager, and migrations started as Step Functions executions.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities import parameters

from flitstack.local.api_server import RunningApi, start_api_server
from flitstack.local.engine import LocalEngine
from infra import resources
from sandbox.serve import RunningStandin, start_standin
from shared import connections
from shared.executions import migration_start, rollback_start
from shared.models import Endpoint, RunOptions, RunRef
from shared.sources.sercom import SercomSource

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


def salesforce_users_for(technicians: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Users the demo org already has: most technicians, by email, a few inactive, some missing.

    This is what a real org looks like before a migration, so owner matching, the fallback
    owner and the unmatched-technicians report all have something to show.
    """
    users = []
    for i, tech in enumerate(sorted(technicians, key=lambda t: str(t["id"]))):
        email = str(tech.get("email") or "").strip()
        if not email or i % 7 == 6:
            continue
        users.append({"FirstName": tech.get("first_name") or "", "LastName": tech.get("last_name") or "Tech",
                      "Email": email.lower(), "IsActive": i % 10 != 9})
    return users


@dataclass
class LocalRuntime:
    """Everything a local migration needs, started in order and stopped in reverse."""

    folder: Path
    records: int = 5000
    seed: int = 7
    tenant: Path | None = None
    salesforce_args: list[str] = field(default_factory=list)
    sercom_args: list[str] = field(default_factory=list)
    engine: LocalEngine | None = None
    sercom: RunningStandin | None = None
    salesforce: RunningStandin | None = None
    dispatcher: dict[str, Any] | None = None
    salesforce_timeout_s: float = 120.0
    api: RunningApi | None = None

    @property
    def tls_dir(self) -> Path:
        return self.folder / "tls"

    def start(self) -> LocalRuntime:
        standins = self.folder / "standins"
        standins.mkdir(parents=True, exist_ok=True)
        source_args = ["--state", str(standins / "sercom.sqlite"), "--tls-dir", str(self.tls_dir)]
        if self.tenant is not None:
            source_args += ["--tenant", str(self.tenant)]
        else:
            source_args += ["--records", str(self.records), "--seed", str(self.seed)]
        self.sercom = start_standin("sercom", source_args + self.sercom_args)
        users_file = standins / "salesforce-users.json"
        src = self._source_client()
        try:
            users_file.write_text(json.dumps(salesforce_users_for(src.read_all("technicians")), indent=1))
        finally:
            src.close()
        self.salesforce = start_standin("salesforce", [
            "--state", str(standins / "salesforce.sqlite"), "--tls-dir", str(self.tls_dir),
            "--users-file", str(users_file), *self.salesforce_args])
        self.engine = LocalEngine()
        self.engine.deploy(dispatcher=self.dispatcher)
        self._put_secrets()
        return self

    def _source_client(self) -> SercomSource:
        assert self.sercom is not None
        return SercomSource(self.sercom.url, str(self.sercom.info["api_key"]),
                            Path(self.sercom.ca_path).read_text())

    def _put_secrets(self) -> None:
        assert self.engine and self.sercom and self.salesforce
        ca = Path(self.salesforce.ca_path).read_text()
        creds = self.salesforce.info["credentials"]
        secrets = {
            "flitstack/local/sercom": {"url": self.sercom.url, "api_key": self.sercom.info["api_key"],
                                       "ca_pem": Path(self.sercom.ca_path).read_text()},
            "flitstack/local/salesforce": {"url": self.salesforce.url, "client_id": creds["client_id"],
                                           "client_secret": creds["client_secret"], "username": creds["username"],
                                           "password": creds["password"], "ca_pem": ca,
                                           "timeout_s": self.salesforce_timeout_s},
        }
        sm = self.engine.client("secretsmanager")
        for name, value in secrets.items():
            sm.create_secret(Name=name, SecretString=json.dumps(value))
        parameters.clear_caches()  # type: ignore[no-untyped-call]  # in-process Lambdas must not keep old secrets

    def run_ref(self, run_id: str, options: RunOptions | None = None) -> RunRef:
        return RunRef(run_id=run_id, pair="sercom-salesforce",
                      source=Endpoint(kind="sercom", secret_name="flitstack/local/sercom"),
                      destination=Endpoint(kind="salesforce", secret_name="flitstack/local/salesforce"),
                      options=options or RunOptions())

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
        return self.api.info()

    def wait(self, arn: str, timeout_s: float = 3600, on_tick: Callable[[], None] | None = None,
             poll_s: float = 0.5) -> dict[str, Any]:
        assert self.engine is not None
        deadline = time.monotonic() + timeout_s
        while True:
            desc = self.engine.describe(arn)
            if on_tick is not None:
                on_tick()
            if desc["status"] in TERMINAL:
                return desc
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {arn} still {desc['status']} after {timeout_s}s")
            time.sleep(poll_s)

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
        for standin in (self.salesforce, self.sercom):
            if standin is not None:
                standin.stop()

    def __enter__(self) -> LocalRuntime:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
