"""Load order: a real topological sort of the mappings by their lookups.

A mapping depends on every mapping that produces a record it looks up (same source object
and destination object). Mappings are grouped into levels: everything in a level can load
in parallel once every earlier level is complete, so each lookup resolves through the
crosswalk. Self-references and cycles must be marked ``deferred`` in the spec; they are
filled by the fix-up pass after all levels. An undeclared cycle is a mapping error that
names the mappings involved, never a silent reorder.
"""

from __future__ import annotations

from shared.errors import MappingError
from shared.mapping.spec import MigrationSpec, ObjectMapping


def dependencies(spec: MigrationSpec) -> dict[str, set[str]]:
    producers: dict[tuple[str, str], list[str]] = {}
    for m in spec.mappings:
        producers.setdefault((m.source_object, m.dest_object), []).append(m.name)
        if m.convert:  # its conversions give the same source records a second home (a Lead's Contact)
            producers.setdefault((m.source_object, m.convert.into), []).append(m.name)
    deps: dict[str, set[str]] = {m.name: set() for m in spec.mappings}
    for m in spec.mappings:
        for lk in [*m.lookups, *(m.convert.link if m.convert else [])]:  # a conversion links to loaded records
            if lk.deferred:
                continue
            for target in lk.all_targets():
                for producer in producers.get((target.source_object, target.dest_object), []):
                    if producer != m.name:
                        deps[m.name].add(producer)
                    elif not lk.deferred:
                        raise MappingError(f"mapping {m.name!r}: lookup {lk.dest!r} points at its own object; "
                                           "mark it deferred so the fix-up pass fills it")
    return deps


def levels(spec: MigrationSpec) -> list[list[str]]:
    """Mapping names grouped by dependency level (Kahn's algorithm, stable by spec order).

    Mappings that carry file content (``attachment_source``) are held back while any mapping without
    files is ready, so every level before :func:`first_level_with_files` needs no copied file: those
    levels load while the FetchFiles fan-out, paced to the source's rate, is still copying (D-053).
    Holding a mapping back never breaks the order: it only ever loads later than its parents.
    """
    deps = dependencies(spec)
    order = [m.name for m in spec.mappings]
    with_files = {m.name for m in spec.mappings if m.attachment_source}
    done: set[str] = set()
    result: list[list[str]] = []
    while len(done) < len(order):
        ready = [n for n in order if n not in done and deps[n] <= done]
        if not ready:
            stuck = sorted(n for n in order if n not in done)
            raise MappingError(f"lookup cycle among {stuck}: mark one lookup of the cycle deferred")
        level = [n for n in ready if n not in with_files] or ready
        result.append(level)
        done.update(level)
    return result


def first_level_with_files(spec: MigrationSpec, planned: list[list[str]]) -> int:
    """The index of the first of ``planned`` (a run's ``levels.json``) holding a mapping that carries
    files; ``len(planned)`` when none does. The levels before it load beside the file copies."""
    with_files = {m.name for m in spec.mappings if m.attachment_source}
    return next((i for i, names in enumerate(planned) if with_files & set(names)), len(planned))


def deferred_mappings(spec: MigrationSpec) -> list[ObjectMapping]:
    return [m for m in spec.mappings if any(lk.deferred for lk in m.lookups)]


def reverse_levels(spec: MigrationSpec) -> list[list[str]]:
    """The order to delete in: children before parents."""
    return list(reversed(levels(spec)))
