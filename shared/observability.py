"""Powertools Logger, Tracer and Metrics from one place, so every handler logs alike.

Every log line carries run id, step, object and batch through :func:`bind`. Secrets are
never formatted into text: connectors hold them in objects whose ``repr`` is redacted.
"""

from __future__ import annotations

import logging
import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "flitstack")

# In the cloud logs go to stdout (CloudWatch); locally FLITSTACK_LOG_FILE sends them to the run folder.
_log_file = os.environ.get("FLITSTACK_LOG_FILE")
logger = Logger(service=SERVICE, logger_handler=logging.FileHandler(_log_file) if _log_file else None)
tracer = Tracer(service=SERVICE, disabled=os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() == "true")
metrics = Metrics(service=SERVICE, namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "FlitStack"))


def begin_invocation(context: object) -> None:
    """Start an invocation's own log keys, dropping the previous invocation's on this thread.

    The keys live in a context variable (Powertools' ``thread_safe_*`` keys), not on the shared
    logger: locally the engine runs Lambda invocations in parallel threads of one process, and a
    shared key would label one invocation's lines with another's batch. Thread keys win over the
    shared ones Powertools' ``inject_lambda_context`` writes, so the request id is bound here too."""
    logger.thread_safe_clear_keys()
    bind(function_request_id=getattr(context, "aws_request_id", None),
         function_name=getattr(context, "function_name", None))


def bind(**keys: object) -> None:
    """Attach run/step/object/batch keys to every following log line of this invocation."""
    logger.thread_safe_append_keys(**{k: v for k, v in keys.items() if v is not None})


def count(name: str, value: float) -> None:
    """Add a count metric (records read, written, rejected)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
