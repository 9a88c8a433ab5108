"""Names and shapes of every AWS resource the workflows use.

One source of truth for the CDK stack (``infra/stack.py``) and the local engine
(``flitstack/local``): table keys, bucket and function names and the ASL substitution
variables are derived from here, so local mode and the cloud cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

STATEMACHINE_DIR = Path(__file__).parent / "statemachines"


@dataclass(frozen=True)
class TableDef:
    """A DynamoDB table: logical id, partition key, optional sort key, TTL attribute."""

    logical_id: str
    partition_key: str
    sort_key: str | None = None
    ttl_attribute: str | None = None
    partition_key_type: str = "S"
    sort_key_type: str = "S"


@dataclass(frozen=True)
class FunctionDef:
    """A Lambda function: logical id, source folder under ``functions/``, sizing."""

    logical_id: str
    folder: str
    memory_mb: int = 1024
    timeout_s: int = 900
    #: ``/tmp`` size: Lambda's default 512 MB, more where a step sorts or joins a whole run on disk (D-049, D-050).
    ephemeral_mb: int = 512
    tables: tuple[str, ...] = ()
    reads_secrets: bool = True
    #: State machines (logical ids) this function starts: it gets their ARNs and states:StartExecution.
    starts: tuple[str, ...] = ()


@dataclass(frozen=True)
class StateMachineDef:
    """A workflow: logical id, ASL file and the functions its Task states invoke."""

    logical_id: str
    asl_file: str
    functions: tuple[str, ...] = field(default_factory=tuple)

    @property
    def path(self) -> Path:
        return STATEMACHINE_DIR / self.asl_file


# --- DynamoDB -----------------------------------------------------------------------------
RUNS = TableDef("RunsTable", partition_key="run_id")
AUDIT = TableDef("AuditTable", partition_key="run_id", sort_key="seq")
CROSSWALK = TableDef("CrosswalkTable", partition_key="scope", sort_key="source_key")
IDEMPOTENCY = TableDef("IdempotencyTable", partition_key="id", ttl_attribute="expiration")
#: Pending and answered sign-offs (the task token stays here, never in a link or a message).
APPROVALS = TableDef("ApprovalsTable", partition_key="approval_id", ttl_attribute="ttl")
TABLES: tuple[TableDef, ...] = (RUNS, AUDIT, CROSSWALK, IDEMPOTENCY, APPROVALS)

# --- S3 -----------------------------------------------------------------------------------
DATA_BUCKET_LOGICAL_ID = "DataBucket"

# --- Lambda -------------------------------------------------------------------------------
#: The folder of the HTTP API function (API Gateway proxies to it; it starts the workflows).
API_FOLDER = "api"
#: The folder of the sign-off function (the ``.waitForTaskToken`` Tasks invoke it).
APPROVAL_FOLDER = "approval"
#: API routes that skip IAM authorization: the handler verifies a signature instead (approval
#: links are HMAC-signed, Slack callbacks carry X-Slack-Signature). Everything else is a
#: management route and needs IAM (an API key locally).
PUBLIC_ROUTES: tuple[tuple[str, str], ...] = (("GET", "/approvals/{proxy+}"), ("POST", "/approvals/{proxy+}"),
                                              ("POST", "/slack/actions"))
_ALL_TABLES = tuple(t.logical_id for t in TABLES)
#: ``/tmp`` of the steps that spill a whole run (reconciliation's join, finalize's audit sort, rollback's plan):
#: about 300 bytes an audit entry plus the upload spooling behind it, so 4 GiB holds some 8 million writes.
RUN_SPILL_MB = 4096
FUNCTIONS: tuple[FunctionDef, ...] = (
    FunctionDef("DiscoverFunction", "discover", tables=_ALL_TABLES),
    FunctionDef("ExtractFunction", "extract", tables=_ALL_TABLES),
    FunctionDef("TransformFunction", "transform", memory_mb=2048, tables=_ALL_TABLES),
    FunctionDef("LoadFunction", "load", memory_mb=2048, tables=_ALL_TABLES),
    FunctionDef("ReconcileFunction", "reconcile", ephemeral_mb=RUN_SPILL_MB, tables=_ALL_TABLES,
                starts=("RollbackStateMachine",)),
    FunctionDef("RollbackFunction", "rollback", ephemeral_mb=RUN_SPILL_MB, tables=_ALL_TABLES),
    FunctionDef("ApprovalFunction", APPROVAL_FOLDER, timeout_s=60, tables=_ALL_TABLES),
    FunctionDef("ApiFunction", API_FOLDER, timeout_s=29, tables=_ALL_TABLES),
)
FUNCTIONS_BY_FOLDER = {f.folder: f for f in FUNCTIONS}

# --- Step Functions -----------------------------------------------------------------------
MIGRATE = StateMachineDef(
    "MigrateStateMachine",
    "migrate.asl.json",
    functions=("discover", "extract", "transform", "load", "reconcile", "approval"),
)
ROLLBACK = StateMachineDef("RollbackStateMachine", "rollback.asl.json", functions=("rollback",))
STATE_MACHINES: tuple[StateMachineDef, ...] = (MIGRATE, ROLLBACK)


def state_machine_arn_env(logical_id: str) -> str:
    """``MigrateStateMachine`` -> ``MIGRATE_STATE_MACHINE_ARN``: the API function's env var for it."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", logical_id).upper() + "_ARN"


def function_arn_variable(folder: str) -> str:
    """The ASL substitution variable holding the ARN of ``functions/<folder>``."""
    return f"{folder.capitalize()}FunctionArn"


DATA_BUCKET_VARIABLE = "DataBucketName"


def asl_variables(function_arns: dict[str, str], bucket_name: str) -> dict[str, str]:
    """Substitutions for ``${Var}`` placeholders in the ASL files (CDK and local engine)."""
    values = {function_arn_variable(folder): arn for folder, arn in function_arns.items()}
    values[DATA_BUCKET_VARIABLE] = bucket_name
    return values


def render_asl(definition: StateMachineDef, variables: dict[str, str]) -> str:
    """The ASL text with every ``${Var}`` replaced; used by the local engine.

    CDK does the same substitution through ``DefinitionBody.from_string`` +
    ``definition_substitutions`` so the template keeps the tokens resolvable.
    """
    text = definition.path.read_text()
    for key, value in variables.items():
        text = text.replace("${" + key + "}", value)
    if "${" in text:
        start = text.index("${")
        raise ValueError(f"{definition.asl_file}: unresolved substitution near {text[start:start + 40]!r}")
    return text
