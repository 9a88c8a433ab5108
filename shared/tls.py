"""Trust material for connectors: a CA bundle carried (as PEM text) in a connection secret.

In the cloud the secret has no CA and the system store is used; locally the stand-ins'
throw-away CA travels inside the secret, never as a flag that turns verification off.
"""

from __future__ import annotations

import hashlib
import ssl
import tempfile
from pathlib import Path


def ssl_context(ca_pem: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=ca_pem) if ca_pem else ssl.create_default_context()


def ca_file(ca_pem: str | None) -> str | bool:
    """A file path for clients that need one (requests); ``True`` means the system store."""
    if not ca_pem:
        return True
    digest = hashlib.sha256(ca_pem.encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"flitstack-ca-{digest}.pem"
    if not path.exists():
        path.write_text(ca_pem)
    return str(path)
