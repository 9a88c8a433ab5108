"""Local resource names, derived from ``infra/resources.py`` so local mode and the cloud can't drift.

The cloud stack lets CloudFormation generate physical names; locally we need stable, predictable
ones. Every name here is a pure function of a definition in ``infra.resources`` plus a prefix.
"""

from __future__ import annotations

import re

from infra.resources import DATA_BUCKET_LOGICAL_ID, FunctionDef, StateMachineDef, TableDef

LOCAL_PREFIX = "flitstack-local"
LOCAL_ACCOUNT_ID = "123456789012"  # moto's default account
LOCAL_REGION = "us-east-1"

#: Env var holding the data bucket's name in every function.
DATA_BUCKET_ENV = "DATA_BUCKET"


def _kebab(logical_id: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", logical_id).lower()


def table_name(table: TableDef, prefix: str = LOCAL_PREFIX) -> str:
    """``RunsTable`` -> ``flitstack-local-runs``."""
    base = table.logical_id.removesuffix("Table")
    return f"{prefix}-{_kebab(base)}"


def table_env_var(table: TableDef) -> str:
    """``RunsTable`` -> ``RUNS_TABLE`` (the env var a function reads the table name from)."""
    base = table.logical_id.removesuffix("Table")
    return f"{_kebab(base).replace('-', '_').upper()}_TABLE"


def bucket_name(prefix: str = LOCAL_PREFIX) -> str:
    """``DataBucket`` -> ``flitstack-local-data``."""
    return f"{prefix}-{_kebab(DATA_BUCKET_LOGICAL_ID.removesuffix('Bucket'))}"


def function_name(fn: FunctionDef, prefix: str = LOCAL_PREFIX) -> str:
    """``functions/extract`` -> ``flitstack-local-extract``."""
    return f"{prefix}-{fn.folder}"


def state_machine_name(sm: StateMachineDef, prefix: str = LOCAL_PREFIX) -> str:
    """``MigrateStateMachine`` -> ``flitstack-local-migrate``."""
    return f"{prefix}-{_kebab(sm.logical_id.removesuffix('StateMachine'))}"


def role_arn(kind: str, prefix: str = LOCAL_PREFIX) -> str:
    return f"arn:aws:iam::{LOCAL_ACCOUNT_ID}:role/{prefix}-{kind}-role"


def state_machine_arn(sm: StateMachineDef, prefix: str = LOCAL_PREFIX, region: str = LOCAL_REGION) -> str:
    """The ARN moto gives the machine (known before it exists, as in the stack)."""
    return f"arn:aws:states:{region}:{LOCAL_ACCOUNT_ID}:stateMachine:{state_machine_name(sm, prefix)}"
