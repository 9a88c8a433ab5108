"""The one error tree: each class says what the orchestrator should do.

The Lambda runtime reports an unhandled exception by its class name, so the ASL's
``Retry`` lists only :class:`RetriableError` subclasses and its ``Catch`` routes the
:class:`FatalError` ones. ``tests/unit/test_errors.py`` checks every error name used in the
ASL files exists here. Record-level problems never raise: they become
:class:`RecordReject` entries in the reject report.
"""

from __future__ import annotations

from dataclasses import dataclass


class FlitStackError(Exception):
    """Base of every error the engine raises on purpose."""


# --- retriable: the same call, later, may succeed ------------------------------------------
class RetriableError(FlitStackError):
    """A transient condition; the step may be retried as it is."""


class ThrottledError(RetriableError):
    """The remote API asked us to slow down (429, REQUEST_LIMIT_EXCEEDED, Retry-After)."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class TransientError(RetriableError):
    """A 5xx, a timeout, a dropped connection or a lock conflict that outlived inner retries."""


# --- fatal: retrying cannot help; a person must act ---------------------------------------
class FatalError(FlitStackError):
    """The run cannot go on without a change of configuration, credentials or data."""


class ConfigurationError(FatalError):
    """Settings, secrets or the migration request are missing or invalid."""


class AuthenticationError(FatalError):
    """The remote system refused our credentials."""


class ContractError(FatalError):
    """A remote API answered in a shape we do not understand (a bug or an API change)."""


class MappingError(FatalError):
    """The mapping spec is invalid against the source or destination schema."""


class QuotaExhaustedError(FatalError):
    """A daily quota is used up; the run must pause and resume from its checkpoint later."""


class IncompleteStepError(FatalError):
    """A fan-out step finished with items that did not record success (nothing is skipped silently)."""


RETRIABLE_NAMES = frozenset(c.__name__ for c in (ThrottledError, TransientError))
FATAL_NAMES = frozenset(
    c.__name__
    for c in (
        ConfigurationError,
        AuthenticationError,
        ContractError,
        MappingError,
        QuotaExhaustedError,
        IncompleteStepError,
    )
)


@dataclass(frozen=True)
class RecordReject:
    """One source record that could not be loaded, and why (goes to the reject report)."""

    source_object: str
    source_id: str
    dest_object: str
    reason: str
    code: str
    field: str | None = None

    def as_row(self) -> dict[str, str]:
        return {
            "source_object": self.source_object,
            "source_id": self.source_id,
            "dest_object": self.dest_object,
            "code": self.code,
            "field": self.field or "",
            "reason": self.reason,
        }
