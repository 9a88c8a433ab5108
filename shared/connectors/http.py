"""What the HTTP source connectors share: streaming a response body in chunks."""

from __future__ import annotations

from collections.abc import Iterator

import httpx

from shared.errors import transport_error

#: Bytes read at a time from a streamed body (a file copied source → S3).
STREAM_CHUNK = 1024 * 1024


def stream_body(resp: httpx.Response, system: str, path: str) -> Iterator[bytes]:
    """The body of a response opened with ``stream=True``, chunk by chunk; closed at the end or on error.
    A connection lost mid-body is the error tree's transient error (the caller's step retries the file)."""
    try:
        yield from resp.iter_bytes(STREAM_CHUNK)
    except httpx.TransportError as exc:
        raise transport_error(system, path, exc) from exc
    finally:
        resp.close()
