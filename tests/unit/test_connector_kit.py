"""The connector kit's promises, checked on the code itself (issue 9).

- The domain (``shared/domain``) imports no connector and names no source or destination: it speaks
  the Source and Destination protocols only.
- Pair files are declarative: they never read records (no paging, no source client) — a source's
  facts arrive already normalised (``Source.facts``).
- Every registered connector is complete: its folder, its stand-in module, its test kit.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from shared.connectors import registry
from shared.pairs import for_pair, pairs

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ROOT / "shared" / "domain"
PAIRS = ROOT / "shared" / "pairs"


def _kinds() -> list[str]:
    return registry.kinds("source") + registry.kinds("destination")


def _names() -> list[str]:
    """Every registered connector's kind and label, plus the promised ones not yet registered."""
    names = set(_kinds()) | {registry.get(k, r).label for r in ("source", "destination") for k in registry.kinds(r)}
    names |= {"Dataverse", "Zoho", "Odoo", "ServiceTracker", "SOQL", "OData"}
    return sorted(names, key=str.casefold)


@pytest.mark.parametrize("path", sorted(DOMAIN.glob("*.py")), ids=lambda p: p.name)
def test_the_domain_imports_no_connector(path: Path) -> None:
    tree = ast.parse(path.read_text())
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    allowed = {"shared.connectors.source", "shared.connectors.destination"}
    bad = [m for m in imported if m.startswith("shared.connectors") and m not in allowed]
    bad += [m for m in imported if m.split(".")[0] in {"httpx", "boto3", "simple_salesforce", "requests"}]
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", sorted(DOMAIN.glob("*.py")), ids=lambda p: p.name)
def test_the_domain_names_no_source_or_destination(path: Path) -> None:
    text = path.read_text()
    found = [n for n in _names() if re.search(rf"\b{re.escape(n)}\b", text, flags=re.IGNORECASE)]
    assert not found, f"{path.name} names {found}"


@pytest.mark.parametrize("pair", pairs())
def test_pair_files_read_no_records(pair: str) -> None:
    module = for_pair(pair)
    source = Path(str(module.__file__)).read_text()
    for call in (r"\.pages\(", r"\.read_all\(", r"\.attachment\(", r"\bhttpx\b", r"\bSource\b", r"\bSercomSource\b"):
        assert not re.search(call, source), f"{pair} holds {call!r}: reading records belongs to the source's facts"


def test_every_registered_connector_has_its_folder_standin_and_test_kit() -> None:
    for role in ("source", "destination"):
        for kind in registry.kinds(role):  # type: ignore[arg-type]
            entry = registry.get(kind, role)  # type: ignore[arg-type]
            assert (ROOT / "shared" / "connectors" / kind / "__init__.py").exists(), kind
            assert importlib.util.find_spec(f"{entry.standin}.__main__") is not None, entry.standin
            kit = importlib.import_module(f"tests.kits.{kind}")
            assert hasattr(kit, "KIT"), f"tests/kits/{kind}.py declares no KIT"


def test_an_unknown_kind_is_refused_naming_the_allowed_ones() -> None:
    allowed = registry.kinds("destination")
    assert {"dynamics", "salesforce"} <= set(allowed)
    with pytest.raises(Exception, match=re.escape(f"allowed: {allowed}")):
        registry.destination("no-such-crm")


def test_a_secret_missing_a_key_is_refused_naming_it() -> None:
    with pytest.raises(Exception, match="password"):
        registry.open_destination("salesforce", "flitstack/x", {"url": "https://x", "client_id": "a",
                                                                 "client_secret": "b", "username": "c"})


def test_pairs_are_found_by_file_name() -> None:
    assert {"sercom-salesforce", "sercom-dynamics"} <= set(pairs())
