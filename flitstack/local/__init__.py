"""Local mode: the real ASL on moto's Step Functions interpreter with in-process Lambdas.

See docs/local-engine.md.
"""

from flitstack.local.dispatch import LambdaContext, error_payload
from flitstack.local.engine import DeployedStack, FixtureStateMachine, LocalEngine, load_endpoint
from flitstack.local.naming import (
    LOCAL_PREFIX,
    bucket_name,
    function_name,
    state_machine_name,
    table_env_var,
    table_name,
)

__all__ = [
    "LOCAL_PREFIX",
    "DeployedStack",
    "FixtureStateMachine",
    "LambdaContext",
    "LocalEngine",
    "bucket_name",
    "error_payload",
    "function_name",
    "load_endpoint",
    "state_machine_name",
    "table_env_var",
    "table_name",
]
