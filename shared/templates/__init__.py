"""Pair templates: how one source lands in one destination, behind one interface.

A template proposes the migration spec from both discovered catalogs. Discovery looks the
pair's template up here (:func:`for_pair`) and never imports one directly, so adding a pair
is adding a module and a line in :data:`_MODULES`. Modules are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Protocol, cast

from shared.errors import ConfigurationError
from shared.mapping.spec import MigrationSpec
from shared.models import DestCatalog, RunOptions, SourceCatalog
from shared.sources.sercom import SercomSource


class PairTemplate(Protocol):
    """What a pair template module exposes (module-level names)."""

    PAIR: str
    #: Objects discovery describes in the destination (missing ones are simply absent from the catalog).
    DEST_OBJECTS: list[str]

    def discovery_extras(self, source: SercomSource, catalog: SourceCatalog) -> dict[str, Any]:
        """Extra source reads the template needs (pipeline stages, distinct status values...)."""
        ...

    def build_spec(self, catalog: SourceCatalog, dcat: DestCatalog, options: RunOptions, *,
                   extras: dict[str, Any], owners: dict[str, str], fallback_owner_id: str) -> MigrationSpec:
        """The proposed mapping for this tenant and org (the document a person reviews)."""
        ...

    def extra_reports(self, spec: MigrationSpec, catalog: SourceCatalog, dcat: DestCatalog,
                      extras: dict[str, Any]) -> dict[str, tuple[str, str]]:
        """Report name -> (text, content type), written beside the mapping document."""
        ...


#: Pair name -> the module implementing it.
_MODULES: dict[str, str] = {
    "sercom-salesforce": "shared.templates.sercom_salesforce",
    "sercom-dynamics": "shared.templates.sercom_dynamics",
}


def pairs() -> list[str]:
    return sorted(_MODULES)


def for_pair(pair: str) -> PairTemplate:
    """The template of ``pair``; an unknown pair is a configuration error naming the known ones."""
    module_name = _MODULES.get(pair)
    if module_name is None:
        raise ConfigurationError(f"pair {pair!r} has no template (known: {pairs()})")
    module = importlib.import_module(module_name)
    if getattr(module, "PAIR", None) != pair:
        raise ConfigurationError(f"template module {module_name} does not declare PAIR = {pair!r}")
    return cast(PairTemplate, module)


if TYPE_CHECKING:  # mypy checks each template module against the interface
    from shared.templates import sercom_dynamics as _sercom_dynamics
    from shared.templates import sercom_salesforce as _sercom_salesforce

    _CONFORMS: list[PairTemplate] = [_sercom_salesforce, _sercom_dynamics]
