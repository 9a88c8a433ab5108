"""The process's heap and the cyclic garbage collector (no imports with side effects: the local runtime calls it
before the Lambdas' modules are loaded)."""

from __future__ import annotations

import gc
from functools import lru_cache


@lru_cache(maxsize=1)
def settle_heap() -> None:
    """Move what the process holds after its imports out of the cyclic collector's sight (``gc.freeze``).

    An HTTP response is a reference cycle (httpx's response and its bound stream; a WSGI request and its
    environ), so it is freed by the collector, not when the last name goes. The collector's full passes run
    only once the objects that survived since the last one reach a quarter of everything that survived it:
    with the import-time heap counted (boto's models, Powertools, pydantic's schemas: several hundred MiB
    and millions of objects), that is rare, and a long invocation's answered responses (a page of records
    each) piled up in memory in proportion to the tenant. Frozen, the import-time heap no longer counts;
    the full passes come as often as the invocation's own garbage makes them due. Once per process: a
    Lambda's cold start (:func:`lambda_handler`, in the Lambda runtime), or the local engine's process once moto
    is up (``LocalRuntime(settle_heap=True)``: `flitstack demo`, `up`, the bench); what is frozen is never
    collected, so nothing made later is frozen with it, and a test process, which starts many engines, is not
    settled.
    """
    gc.collect()
    gc.freeze()
    gc.collect()  # the collector's count of survivors is taken at a full pass: now without the frozen heap
