"""``multipart/form-data`` parsing with the standard library (the project does not ship python-multipart).

Attachments and bulk-write uploads arrive as a form with a ``file`` part; this returns the parts
by name as (filename, content) so handlers can check sizes and names as Zoho does.
"""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP

from sandbox.zoho.errors import ZohoError


def form_parts(content_type: str | None, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """Parts by field name; a body that is not multipart is refused as Zoho refuses a missing file."""
    if not content_type or not content_type.lower().startswith("multipart/form-data"):
        raise ZohoError("INVALID_DATA", "invalid data", {"reason": "multipart/form-data with a file part expected"})
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n" + body)
    parts: dict[str, tuple[str | None, bytes]] = {}
    if not message.is_multipart():
        return parts
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        parts[name] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return parts
