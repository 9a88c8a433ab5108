"""Reading field and object names: a name -> the concept it means, how it was read and how surely.

A name is split (``custPhoneNo``, ``cust_ph_no``, ``Cust Ph. No``), stripped of accents, platform affixes
(``__c``, ``x_studio_``) and words that only repeat the object (``cust_`` on a customer), and its
abbreviations are spelled out. It is then looked up in the vocabulary: exactly, by consonant skeleton
(``bllng cty`` -> ``billing city``), by abbreviation (each word a shortening of the vocabulary's word,
``inst dt`` -> ``install date``) and last by string similarity (rapidfuzz).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from rapidfuzz import fuzz, process

from shared.mapping.propose.vocabulary import ABBREVIATIONS, FIELD_CONCEPTS, OBJECT_CONCEPTS, OBJECT_WORDS

FUZZY_MIN = 86  # rapidfuzz ratio (0-100) under which a fuzzy vocabulary hit is not taken
PARTIAL = 0.6  # how surely a name means what one of its parts means
#: Platform and tool affixes that carry no meaning (``Tier__c``, ``x_studio_tier``, ``cf_tier``).
AFFIXES = frozenset({"x", "c", "cf", "custom", "flit", "studio", "new", "pc", "fld", "field"})


@dataclass(frozen=True)
class Reading:
    """What a name was read as: its words, the concept (if any), how it was found and how surely (0-1)."""

    phrase: str
    concept: str | None
    how: str
    strength: float
    #: Concepts a part of the name reads as, when the whole name does not (``billing town``: city).
    partial: tuple[str, ...] = ()

    def describe(self, name: str) -> str:
        if self.concept is None and self.partial:
            return f"part of {name!r} reads as {' or '.join(c.replace('_', ' ') for c in self.partial)}"
        if self.concept is None:
            return f"{name!r} is not in the vocabulary (read as {self.phrase!r})"
        return f"{name!r} reads as {self.concept.replace('_', ' ')} ({self.how})"


def words(name: str) -> list[str]:
    """``custPhone_No.`` -> ``['cust', 'phone', 'no']``; accents dropped, lower case."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", text)
    return [w for w in re.split(r"[^0-9a-z]+", text.casefold()) if w]


def skeleton(word: str) -> str:
    return word[:1] + re.sub(r"[aeiouy]", "", word[1:])


def _is_shortening(short: str, full: str) -> bool:
    """``bllng`` / ``bill`` / ``cty`` shorten ``billing`` / ``billing`` / ``city``: same first letter, in order."""
    if len(short) < 2 or short[0] != full[0] or len(short) >= len(full):
        return False
    it = iter(full)
    return all(c in it for c in short)


class Vocabulary:
    """An index over concept phrases: exact, skeleton and per-word lookups."""

    def __init__(self, concepts: dict[str, tuple[str, ...]]) -> None:
        self.exact: dict[str, str] = {}
        skel: dict[str, set[str]] = {}
        for concept, phrases in concepts.items():
            for phrase in (concept.replace("_", " "), *phrases):
                key = " ".join(words(phrase))
                self.exact.setdefault(key, concept)
                skel.setdefault(" ".join(skeleton(w) for w in key.split()), set()).add(concept)
        self.skeletons = {k: next(iter(v)) for k, v in skel.items() if len(v) == 1}
        self.phrases = list(self.exact)

    def read(self, name: str, *, strip: frozenset[str] = OBJECT_WORDS) -> Reading:
        raw = words(name)
        bare = [w for w in raw if w not in AFFIXES] or raw
        leads: list[list[str]] = []
        lead = list(bare)
        while len(lead) > 1 and (lead[0] in strip or len(lead[0]) <= 2):
            lead = lead[1:]  # ``cust_``/``wo_`` only say which object the field is on
            leads.append(lead)
        tries: list[tuple[list[str], float, str]] = []
        for ws, base, how in ((raw, 1.0, "exact"), (bare, 1.0, "exact"),
                              *((ld, 0.97, "object prefix dropped") for ld in leads)):
            spelled = " ".join(ABBREVIATIONS.get(w, w) for w in ws).split()
            for form, b, h in ((ws, base, how), (spelled, base * 0.95, "abbreviation spelled out")):
                if form is spelled and spelled == ws:
                    continue
                tries.append((form, b, h))
                if len(form) == 2:
                    tries.append((form[::-1], b * 0.95, f"{h}, words reordered"))
        for ws, base, how in tries:
            key = " ".join(ws)
            if key in self.exact:
                return Reading(key, self.exact[key], f"synonym, {how}" if how != "exact" else "vocabulary", base)
        for ws, base, _ in tries:
            if min(len(w) for w in ws) < 3 or len("".join(ws)) < 5 or any(w in ABBREVIATIONS for w in ws):
                continue  # short skeletons are ambiguous (``num`` and ``name`` are both ``nm``)
            key = " ".join(skeleton(w) for w in ws)
            if key in self.skeletons:
                return Reading(" ".join(ws), self.skeletons[key], "abbreviated (same consonants)", base * 0.9)
        best = self._shortened(tries)
        if best is not None:
            return best
        phrase = " ".join(tries[-1][0])
        hit = process.extractOne(phrase, self.phrases, scorer=fuzz.ratio, score_cutoff=FUZZY_MIN)
        if hit is not None:
            return Reading(phrase, self.exact[hit[0]], f"close to {hit[0]!r}", hit[1] / 100 * 0.85)
        spelled_lead = " ".join(ABBREVIATIONS.get(w, w) for w in (leads[-1] if leads else bare)).split()
        return Reading(" ".join(lead), None, "unknown", 0.0, self._parts(spelled_lead))

    def _parts(self, ws: list[str]) -> tuple[str, ...]:
        """The concepts of the longest parts of a name that the vocabulary knows (exactly or by skeleton)."""
        for size in range(len(ws) - 1, 0, -1):
            found: dict[str, None] = {}
            for start in range(len(ws) - size + 1):
                part = ws[start:start + size]
                key = " ".join(part)
                concept = self.exact.get(key) or self.skeletons.get(" ".join(skeleton(w) for w in part))
                if concept:
                    found[concept] = None
            if found:
                return tuple(found)
        return ()

    def _shortened(self, tries: list[tuple[list[str], float, str]]) -> Reading | None:
        """Each word a shortening (or equal) of the phrase's word: one concept only, else no reading."""
        for ws, base, _ in tries:
            found = {self.exact[p] for p in self.phrases
                     if len(p.split()) == len(ws)
                     and all(a == b or _is_shortening(a, b) for a, b in zip(ws, p.split(), strict=True))
                     and any(a != b for a, b in zip(ws, p.split(), strict=True))}
            if len(found) == 1 and len("".join(ws)) >= 4:
                return Reading(" ".join(ws), found.pop(), "abbreviated (shortened words)", base * 0.85)
        return None


@cache
def field_vocabulary() -> Vocabulary:
    return Vocabulary(FIELD_CONCEPTS)


@cache
def object_vocabulary() -> Vocabulary:
    return Vocabulary(OBJECT_CONCEPTS)


@cache
def read_field(name: str) -> Reading:
    return field_vocabulary().read(name)


@cache
def read_object(name: str) -> Reading:
    return object_vocabulary().read(name, strip=frozenset({"tbl", "table", "obj", "object"}))


def similarity(a: str, b: str) -> float:
    """Plain string similarity of two names' words (0-1), for names the vocabulary does not know."""
    return fuzz.token_sort_ratio(" ".join(words(a)), " ".join(words(b))) / 100
