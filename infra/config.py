"""Where the CDK app finds its inputs: the repository root, ``cdk.json`` context and our context keys.

``python app.py`` (and a test building ``cdk.App()``) does not read ``cdk.json``: only the CDK CLI
does, and hands the context to the app through the environment. :func:`cdk_json_context` gives
the same feature flags to every entry point, so a template synthesized by a test, by
``python app.py`` and by ``cdk synth`` is the same template.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: The repository root (``infra/`` lives directly under it).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = PROJECT_ROOT / "cdk.json"
PYPROJECT = PROJECT_ROOT / "pyproject.toml"
CONSTRAINTS = PROJECT_ROOT / "constraints.txt"

#: Standard CDK context key: the stacks (glob patterns on construct paths) whose assets are
#: bundled. ``[]`` skips all bundling; the CLI sets it from the stacks it was asked to synth.
BUNDLING_STACKS = "aws:cdk:bundling-stacks"

#: Our context keys (``cdk synth -c flitstack:log-level=DEBUG`` or the ``context`` of cdk.json).
SENDER_CONTEXT = "flitstack:sender"
LOG_LEVEL_CONTEXT = "flitstack:log-level"
ARTEFACT_RETENTION_CONTEXT = "flitstack:artefact-retention-days"
APIGW_CLOUDWATCH_ROLE_CONTEXT = "flitstack:apigw-cloudwatch-role"

DEFAULT_SENDER = "flitstack@example.com"
DEFAULT_LOG_LEVEL = "INFO"
DEFAULT_ARTEFACT_RETENTION_DAYS = 90


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The ``context`` block of ``cdk.json`` (feature flags and our defaults); ``{}`` if absent."""
    if not path.exists():
        return {}
    context = json.loads(path.read_text()).get("context", {})
    if not isinstance(context, dict):
        raise ValueError(f"{path}: 'context' must be an object, got {type(context).__name__}")
    return context
