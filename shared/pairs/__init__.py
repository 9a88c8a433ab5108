"""Pairs: how one source lands in one destination, as data over the shared spec builder.

A pair module proposes the migration spec from both discovered catalogs. Discovery looks the
pair up here (:func:`for_pair`) and never imports one directly. A pair is found by its file name,
``shared/pairs/<source kind>_<destination kind>.py`` declaring ``PAIR = "<source>-<destination>"``:
adding a pair is adding that file, nothing else. Modules are imported on first use.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol, cast

from shared.errors import ConfigurationError
from shared.mapping.spec import MigrationSpec
from shared.models import DestCatalog, RunOptions, SourceCatalog


class PairTemplate(Protocol):
    """What a pair template module exposes (module-level names)."""

    PAIR: str
    #: Objects discovery describes in the destination (missing ones are simply absent from the catalog).
    DEST_OBJECTS: list[str]
    #: The object table as data: source object -> destination objects (the estimate, before any credentials).
    OBJECT_TABLE: dict[str, list[str]]
    #: Destination objects the run creates before loading.
    CREATED_OBJECTS: list[str]

    def build_spec(self, catalog: SourceCatalog, dcat: DestCatalog, options: RunOptions, *,
                   extras: dict[str, Any], owners: dict[str, str], fallback_owner_id: str) -> MigrationSpec:
        """The proposed mapping for this tenant and org (the document a person reviews)."""
        ...

    def extra_reports(self, spec: MigrationSpec, catalog: SourceCatalog, dcat: DestCatalog,
                      extras: dict[str, Any]) -> dict[str, tuple[str, str]]:
        """Report name -> (text, content type), written beside the mapping document."""
        ...


#: Modules of this package that are not pairs.
_NOT_PAIRS = frozenset({"builder"})


@cache
def _modules() -> dict[str, str]:
    """Pair name -> module, from the file names (``sercom_salesforce.py`` -> ``sercom-salesforce``)."""
    return {info.name.replace("_", "-", 1): f"{__name__}.{info.name}"
            for info in pkgutil.iter_modules(__path__) if info.name not in _NOT_PAIRS and "_" in info.name}


def pairs() -> list[str]:
    return sorted(_modules())


def pair_name(source_kind: str, destination_kind: str) -> str | None:
    """The pair migrating ``source_kind`` into ``destination_kind``, or None when there is none."""
    name = f"{source_kind}-{destination_kind}"
    return name if name in _modules() else None


def for_pair(pair: str) -> PairTemplate:
    """The template of ``pair``; an unknown pair is a configuration error naming the known ones."""
    module_name = _modules().get(pair)
    if module_name is None:
        raise ConfigurationError(f"pair {pair!r} has no template (known: {pairs()})")
    module = importlib.import_module(module_name)
    if getattr(module, "PAIR", None) != pair:
        raise ConfigurationError(f"template module {module_name} does not declare PAIR = {pair!r}")
    return cast(PairTemplate, module)


if TYPE_CHECKING:  # mypy checks each template module against the interface
    from shared.pairs import sercom_dynamics as _sercom_dynamics
    from shared.pairs import sercom_odoo as _sercom_odoo
    from shared.pairs import sercom_salesforce as _sercom_salesforce
    from shared.pairs import sercom_zoho as _sercom_zoho

    _CONFORMS: list[PairTemplate] = [_sercom_salesforce, _sercom_dynamics, _sercom_zoho, _sercom_odoo]
