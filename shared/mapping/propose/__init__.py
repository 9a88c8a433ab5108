"""The mapping proposer: for what a pair's data does not cover, where it should land and how surely.

Offline and fast (a vocabulary, rapidfuzz and one scipy assignment per object; no network, no model):
``matcher.propose_fields`` for fields, ``matcher.propose_object`` for tenant objects, ``apply`` for a
whole migration spec at discovery, ``memory`` for the choices a person made at an earlier sign-off.
"""

from shared.mapping.propose.matcher import (
    NEW_SCORE,
    THRESHOLD,
    FieldProposal,
    ObjectProposal,
    Option,
    SourceColumn,
    TargetColumn,
    propose_fields,
    propose_object,
)

__all__ = ["NEW_SCORE", "THRESHOLD", "FieldProposal", "ObjectProposal", "Option", "SourceColumn", "TargetColumn",
           "propose_fields", "propose_object"]
