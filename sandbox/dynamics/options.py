"""Which query-string parameters each kind of request may carry, and the refusal for the rest.

A stand-in that ignores a query option it does not implement returns the wrong data with a 200
(``$apply`` dropped → the whole table instead of an aggregate; ``fetchXml`` dropped → every row).
So every handler names the options it honours and everything else is refused the way
Dataverse refuses it: ``{"error": {"code": …, "message": "The query parameter X is not supported"}}``.

* Custom (non-``$``) parameters: code ``0x0`` and the wording Dataverse answered for
  ``utm_source`` (rappen/FetchXMLBuilder#437). ``sql`` (the Web API's read-only SQL preview that
  microsoft/PowerPlatform-DataverseClient-Python sends as ``?sql=``) gets the same answer, which is
  what an environment without that feature answers (that client's issue #74).
* ``$`` system options the stand-in does not implement (``$apply``, ``$compute``, ``$expand``,
  ``$skip``, ``$search``, …): 400 ``0x80060888`` naming the option (code UNCONFIRMED).
* ``tag`` (a shared variable for plug-ins, used in Microsoft's bulk-operation examples) is
  accepted everywhere; ``@name`` parameter aliases are accepted where the handler resolves them.
"""

from __future__ import annotations

from collections.abc import Iterable

from sandbox.dynamics.errors import SEGMENT_NOT_FOUND, DataverseError
from sandbox.dynamics.http import ApiRequest

#: Options accepted on every request (``tag`` reaches plug-ins as a shared variable).
ALWAYS = frozenset({"tag"})
ALIASES = "@"  # marker in an allowed set: ``@name`` parameter aliases are resolved by the handler


def unsupported(name: str) -> DataverseError:
    """Dataverse's refusal of a query parameter (system options keep the query-error code)."""
    code = SEGMENT_NOT_FOUND if name.startswith("$") else "0x0"
    return DataverseError(400, code, f"The query parameter {name} is not supported")


def check_options(req: ApiRequest, allowed: Iterable[str]) -> dict[str, str]:
    """The request's query parameters, after refusing any the handler does not honour."""
    permitted = set(allowed) | ALWAYS
    params = req.params
    for name in params:
        if name in permitted or (name.startswith("@") and ALIASES in permitted):
            continue
        raise unsupported(name)
    return params


def aliases(params: dict[str, str]) -> dict[str, str]:
    """``@p1=value`` parameter aliases (OData "parameter aliases"), keyed with their ``@``."""
    return {k: v for k, v in params.items() if k.startswith("@")}
