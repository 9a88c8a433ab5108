"""The one error tree: each class says what the orchestrator should do.

The Lambda runtime reports an unhandled exception by its class name, so the ASL's
``Retry`` lists only :class:`RetriableError` subclasses and its ``Catch`` routes the
:class:`FatalError` ones. ``tests/unit/test_errors.py`` checks every error name used in the
ASL files exists here. Record-level problems never raise: they become
:class:`RecordReject` entries in the reject report.
"""

from __future__ import annotations

from collections.abc import Mapping
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


class SourceNotReadyError(FatalError):
    """The source's pre-flight check blocks the full run (mobile devices hold offline changes not yet synced):
    the run pauses and checks again, until the source is ready or a person overrides it at the sample sign-off."""


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
        SourceNotReadyError,
        IncompleteStepError,
    )
)


#: The one status -> error table every connector translates HTTP answers with (D-028). The first
#: row whose range holds the status wins; statuses no row holds (1xx-3xx never reach here) are a
#: :class:`ContractError`. Documented in ``docs/architecture.md`` ("Retry and error table").
STATUS_ERRORS: tuple[tuple[range, type[FlitStackError]], ...] = (
    (range(429, 430), ThrottledError),  # Too Many Requests: wait Retry-After (or back off)
    (range(500, 600), TransientError),  # the server failed; the same call later may succeed
    (range(401, 402), AuthenticationError),  # credentials or session refused
    (range(403, 404), AuthenticationError),  # the integration user may not do this
    (range(400, 500), ContractError),  # any other refusal: we sent what the API does not accept
)
#: Vendor error codes that override the status row (Salesforce answers a spent quota with 403).
#: A :class:`QuotaExhaustedError` code answered *with* Retry-After is a throttle instead: the
#: server says when to come back, so the call is retried rather than the run paused.
VENDOR_CODE_ERRORS: Mapping[str, type[FlitStackError]] = {
    "REQUEST_LIMIT_EXCEEDED": QuotaExhaustedError,  # Salesforce: the rolling 24-hour API quota
}


def error_for_status(system: str, what: str, status: int, *, code: str = "", message: str = "",
                     retry_after_s: float | None = None,
                     refused: type[FatalError] = ContractError) -> FlitStackError:
    """The error an HTTP answer means, from :data:`STATUS_ERRORS` and :data:`VENDOR_CODE_ERRORS`.

    ``refused`` replaces the table's :class:`ContractError` for a plain 4xx where the endpoint
    makes any refusal mean something else (an OAuth token endpoint's 400 ``invalid_grant`` is
    an :class:`AuthenticationError`). The message names the system, the call, the status and the
    vendor code, never a credential (callers pass the answer's error text, not the request).
    """
    cls: type[FlitStackError] = VENDOR_CODE_ERRORS.get(code) or next(
        (c for statuses, c in STATUS_ERRORS if status in statuses), ContractError)
    if cls is ContractError and refused is not ContractError:
        cls = refused
    if cls is QuotaExhaustedError and retry_after_s is not None:
        cls = ThrottledError
    detail = " ".join(p for p in (f"HTTP {status}", code, message[:300]) if p)
    text = f"{system} {what}: {detail}"
    if cls is ThrottledError:
        return ThrottledError(text, retry_after_s)
    if cls is QuotaExhaustedError:
        return QuotaExhaustedError(f"{text} (daily API quota; the run pauses until it recovers)")
    return cls(text)


def transport_error(system: str, what: str, exc: BaseException) -> TransientError:
    """A call that got no answer (refused connection, reset, timeout): transient, retried."""
    return TransientError(f"{system} {what}: {type(exc).__name__}")


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
