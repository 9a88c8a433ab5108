"""A throw-away certificate authority for the stand-ins.

Real clients (simple-salesforce, httpx) speak HTTPS only, so every stand-in serves TLS
with a leaf certificate for ``127.0.0.1``/``localhost`` signed by a CA created once per
folder. Clients trust the CA through its PEM path; nothing is added to the system store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TlsMaterial:
    """Paths of the CA certificate and the server's certificate chain and key."""

    ca_path: Path
    cert_path: Path
    key_path: Path


def ensure_tls(folder: Path) -> TlsMaterial:
    """Create (once) a CA and a localhost server certificate in ``folder`` and return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    material = TlsMaterial(folder / "ca.pem", folder / "server-chain.pem", folder / "server-key.pem")
    if material.ca_path.exists() and material.cert_path.exists() and material.key_path.exists():
        return material
    ca = trustme.CA(organization_name="FlitStack throw-away CA")
    leaf = ca.issue_cert("127.0.0.1", "localhost", "::1")
    ca.cert_pem.write_to_path(str(material.ca_path))
    leaf.private_key_pem.write_to_path(str(material.key_path))
    with material.cert_path.open("wb") as fh:
        for blob in leaf.cert_chain_pems:
            fh.write(blob.bytes())
    material.key_path.chmod(0o600)
    return material
