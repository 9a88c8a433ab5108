"""Transform step: one extracted batch through one mapping, to a load-ready batch."""

from __future__ import annotations

from typing import Any

from shared.connections import open_source
from shared.domain.transform import transform_batch
from shared.handler import Op, lambda_handler, stores
from shared.observability import count
from shared.steps import TransformIn, TransformOut


def _transform(step: TransformIn) -> dict[str, Any]:
    result = transform_batch(step.run, step.item.model_dump(), stores().blobs, stores().crosswalk,
                             lambda: open_source(step.run.source))
    count("RecordsTransformed", result["count"])
    count("RecordsRejected", result["rejected"])
    return result


OPS: dict[str, Op[Any, Any]] = {"transform_batch": Op(TransformIn, TransformOut, _transform)}

handler = lambda_handler(OPS)
