"""Scoring and one-to-one assignment: each source field -> an existing destination field or a new one.

Every (source field, destination field) pair gets a score from three kinds of evidence, each kept as a
sentence for the person at sign-off:

- **names**: both names read as the same vocabulary concept (synonyms, abbreviations, other languages),
  else plain string similarity of their words (rapidfuzz);
- **type and format**: the kind the sampled values show (emails, phones, dates, URLs, currencies,
  numbers, booleans, a few repeated values) against the kind the destination field holds;
- **values**: the share of the sampled values that are options of a destination pick-list.

Every source field may also become a *new* custom field (its own column in the assignment, at
:data:`NEW_SCORE`), so a field matching nothing well is proposed as new rather than forced onto a
stranger. scipy's ``linear_sum_assignment`` then picks the one-to-one assignment with the highest total
score across the object: two source fields never land in one destination field, and a close second
choice loses to the field that fits it better. The confidence of a proposal combines its score with its
margin over the next option for the same source field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, Field
from scipy.optimize import linear_sum_assignment

from shared.mapping.propose.evidence import Kind, compatibility, dest_kind, profile, source_kind
from shared.mapping.propose.names import PARTIAL, Reading, read_field, read_object, similarity

NEW_SCORE = 0.5  # score of "a new custom field": an existing field must do better than this to be proposed
THRESHOLD = 0.7  # proposals at or above are applied; below are flagged and wait for a person
ALTERNATIVES = 3
_FORBIDDEN = -1.0
PLAIN_FLOOR = 0.2
NEW_SLOPE = 0.8
DISTINCT = frozenset({"email", "url", "phone", "date", "datetime", "currency", "boolean"})


@dataclass
class SourceColumn:
    """A source field as the proposer sees it: names, declared type, a sample of values, its options."""

    name: str
    label: str = ""
    type: str = "text"
    values: Sequence[object] = ()
    picklist: Sequence[str] = ()


@dataclass
class TargetColumn:
    """An existing destination field that is still free (no rule of the pair fills it)."""

    name: str
    label: str = ""
    type: str = "string"
    picklist: Sequence[str] = ()
    reading: Reading | None = field(default=None, repr=False)


class Option(BaseModel):
    """One place a source field could land: an existing field (``target``) or a new custom field (None)."""

    target: str | None
    score: float
    reasons: list[str] = Field(default_factory=list)


class FieldProposal(BaseModel):
    """Where one source field is proposed to land, how surely, why, and what else was considered."""

    source: str
    target: str | None = Field(description="an existing destination field, or None: a new custom field")
    kind: Kind = Field(description="what the values are (the new field's type when target is None)")
    confidence: float
    reasons: list[str]
    alternatives: list[Option] = Field(default_factory=list)
    value_map: dict[str, str] | None = Field(default=None, description="source value -> option of a pick-list")
    origin: str = "proposed"

    @property
    def confident(self) -> bool:
        return self.confidence >= THRESHOLD


class ObjectProposal(BaseModel):
    source: str
    target: str | None = Field(description="an existing destination object, or None: a new custom object")
    confidence: float
    reasons: list[str]
    alternatives: list[Option] = Field(default_factory=list)


def _reading(name: str, label: str) -> Reading:
    by_name = read_field(name)
    if label and (by_name.concept is None or by_name.strength < 0.9):
        by_label = read_field(label)
        if by_label.concept is not None and by_label.strength > by_name.strength:
            return by_label
    return by_name


def _name_score(src: SourceColumn, s: Reading, dst: TargetColumn, t: Reading) -> tuple[float, str]:
    if s.concept and s.concept == t.concept:
        return min(s.strength, t.strength), f"{s.describe(src.name)}; {dst.name!r} is {t.concept.replace('_', ' ')}"
    plain = max(similarity(src.name, dst.name), similarity(src.label or src.name, dst.label or dst.name))
    if s.concept is None and t.concept in s.partial:
        return PARTIAL * t.strength, f"{s.describe(src.name)}; {dst.name!r} is {t.concept.replace('_', ' ')}"
    # unrelated names are still ~40% alike as strings: only what is above that counts
    name = max(0.0, (plain - PLAIN_FLOOR) / (1 - PLAIN_FLOOR)) * 0.85
    if s.concept and t.concept:  # both known, and different
        return min(name, 0.25), f"{src.name!r} is {s.concept}, {dst.name!r} is {t.concept}"
    return name, f"names {plain:.0%} alike"


def _overlap(values: Sequence[str], options: Sequence[str]) -> tuple[float, dict[str, str]]:
    """Share of the distinct source values that are options (case and separators ignored), and the map."""
    index = {" ".join(o.casefold().replace("_", " ").split()): o for o in options}
    mapped = {v: index[k] for v in values if (k := " ".join(v.casefold().replace("_", " ").split())) in index}
    return (len(mapped) / len(values) if values else 0.0), mapped


def _score(src: SourceColumn, s: Reading, kind: Kind, distinct: list[str], dst: TargetColumn
           ) -> tuple[float, list[str], dict[str, str] | None]:
    t = dst.reading or _reading(dst.name, dst.label)
    name, why_name = _name_score(src, s, dst, t)
    d_kind = dest_kind(dst.type)
    fit = compatibility(kind, d_kind)
    reasons = [why_name, f"{kind} values into a {d_kind} field ({fit:.0%} fit)"]
    value_map = None
    if d_kind == "picklist" and dst.picklist and distinct:
        share, value_map = _overlap(distinct, dst.picklist)
        reasons.append(f"{len(value_map)} of {len(distinct)} distinct values are options of {dst.name!r}")
        score = 0.45 * name + 0.2 * fit + 0.35 * share
    elif kind in DISTINCT:  # the values' format says a lot: emails, URLs, phones, dates, money, yes/no
        score = 0.6 * name + 0.4 * fit
    else:  # plain text and numbers: the name has to carry the match
        score = 0.8 * name + 0.2 * fit
    if fit == 0.0:
        score *= 0.4
    return round(score, 4), reasons, value_map


def _confidence(score: float, runner_up: float) -> float:
    margin = max(0.0, score - runner_up)
    return round(min(0.99, score) * (0.6 + 0.4 * min(1.0, margin / 0.25)), 3)


def propose_fields(sources: Sequence[SourceColumn], targets: Sequence[TargetColumn]) -> list[FieldProposal]:
    """The proposal for every source field, in the order given (one-to-one over existing targets)."""
    if not sources:
        return []
    readings, kinds, distincts, kind_why = [], [], [], []
    for src in sources:
        ev = profile(src.values)
        kind, why = source_kind(src.type, ev)
        readings.append(_reading(src.name, src.label))
        kinds.append(kind)
        kind_why.append(why)
        distincts.append(list(dict.fromkeys([*map(str, ev.distinct), *src.picklist])))
    for t in targets:
        t.reading = _reading(t.name, t.label)
    n, m = len(sources), len(targets)
    matrix = np.full((n, m + n), _FORBIDDEN)
    detail: dict[tuple[int, int], tuple[list[str], dict[str, str] | None]] = {}
    for i, src in enumerate(sources):
        for j, dst in enumerate(targets):
            score, reasons, vmap = _score(src, readings[i], kinds[i], distincts[i], dst)
            matrix[i, j] = score
            detail[(i, j)] = (reasons, vmap)
        matrix[i, m + i] = NEW_SCORE
    rows, cols = linear_sum_assignment(matrix, maximize=True)
    chosen = dict(zip(rows.tolist(), cols.tolist(), strict=True))
    out: list[FieldProposal] = []
    for i, src in enumerate(sources):
        j = chosen[i]
        options = sorted(((float(matrix[i, k]), k) for k in [*range(m), m + i]), reverse=True)
        best_existing = max((float(matrix[i, k]) for k in range(m)), default=0.0)
        alternatives = [Option(target=None if k >= m else targets[k].name, score=round(s, 3),
                               reasons=[] if k >= m else detail[(i, k)][0])
                        for s, k in options if k != j][:ALTERNATIVES]
        if j >= m:
            confidence = round(min(0.99, 0.55 + (NEW_SCORE - best_existing) * NEW_SLOPE), 3)
            near = f"closest existing field scores {best_existing:.2f}" if m else "no existing field is free"
            reasons = [readings[i].describe(src.name), f"{near} (a new field needs more than {NEW_SCORE:.2f} "
                       "elsewhere to be beaten)", f"new {kinds[i]} field: {kind_why[i]}"]
            out.append(FieldProposal(source=src.name, target=None, kind=kinds[i], confidence=confidence,
                                     reasons=reasons, alternatives=alternatives))
            continue
        score = float(matrix[i, j])
        runner = max((s for s, k in options if k != j), default=0.0)
        reasons, vmap = detail[(i, j)]
        out.append(FieldProposal(source=src.name, target=targets[j].name, kind=kinds[i],
                                 confidence=_confidence(score, runner),
                                 reasons=[*reasons, f"score {score:.2f}, next option {runner:.2f}"],
                                 alternatives=alternatives, value_map=vmap))
    return out


def propose_object(name: str, label: str, existing: dict[str, str]) -> ObjectProposal:
    """A tenant object -> an existing destination object of the same concept, else a new custom object.

    ``existing`` is destination object name -> its label. Existing matches need a person (they would mix
    the tenant's records with the standard ones), so they are proposed, never applied unconfirmed.
    """
    s = read_object(name) if read_object(name).concept else read_object(label)
    options: list[Option] = []
    for dest, dest_label in existing.items():
        t = read_object(dest) if read_object(dest).concept else read_object(dest_label)
        if s.concept and s.concept == t.concept:
            options.append(Option(target=dest, score=round(min(s.strength, t.strength), 3),
                                  reasons=[f"{s.describe(name)}; {dest!r} is {t.concept}"]))
    options.sort(key=lambda o: -o.score)
    if options and options[0].score >= 0.85:
        best = options[0]
        return ObjectProposal(source=name, target=best.target, confidence=round(best.score * 0.8, 3),
                              reasons=[*best.reasons, "an existing object: confirm at sign-off"],
                              alternatives=[Option(target=None, score=0.5, reasons=["a new custom object"]),
                                            *options[1:ALTERNATIVES]])
    return ObjectProposal(source=name, target=None, confidence=0.95,
                          reasons=[s.describe(name), "no destination object means the same: a new custom object"],
                          alternatives=options[:ALTERNATIVES])
