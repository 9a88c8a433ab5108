"""Transform step: one extracted batch through one mapping, to a load-ready batch."""

from __future__ import annotations

from typing import Any

from shared.connections import open_source
from shared.domain.transform import transform_batch
from shared.handler import lambda_handler, stores
from shared.models import StepInput
from shared.observability import count


def _transform(step: StepInput) -> dict[str, Any]:
    item = dict(getattr(step, "item", {}))
    result = transform_batch(step.run, item, stores().blobs, stores().crosswalk,
                             lambda: open_source(step.run.source))
    count("RecordsTransformed", result["count"])
    count("RecordsRejected", result["rejected"])
    return result


OPS = {"transform_batch": _transform}

handler = lambda_handler(OPS)
