"""Lambda packaging without docker: what goes into each asset, how its hash is made, that the
test switch really skips bundling, and that the dependencies layer covers what the code imports.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
import pytest
from aws_cdk import aws_lambda as lambda_
from packaging.requirements import Requirement

from infra import bundling
from infra.config import BUNDLING_STACKS, PROJECT_ROOT
from infra.resources import FUNCTIONS
from tests.infra.conftest import synth_context

pytestmark = [pytest.mark.infra, pytest.mark.timeout(120)]


def make_tree(root: Path) -> None:
    (root / "shared" / "pkg").mkdir(parents=True)
    (root / "shared" / "__init__.py").write_text("")
    (root / "shared" / "pkg" / "mod.py").write_text("VALUE = 1\n")
    (root / "shared" / "__pycache__").mkdir()
    (root / "shared" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\0")
    (root / "shared" / "tests").mkdir()
    (root / "shared" / "tests" / "test_mod.py").write_text("")


def test_copy_tree_puts_shared_under_python_and_skips_caches_and_tests(tmp_path: Path) -> None:
    source, out = tmp_path / "src", tmp_path / "out"
    make_tree(source)

    bundler = bundling.CopyTreeBundling(bundling.SHARED_LAYER_ENTRIES, root=source)
    assert bundler.try_bundle(str(out)) is True

    copied = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert copied == ["python/shared/__init__.py", "python/shared/pkg/mod.py"]


def test_copy_tree_hash_follows_content_only(tmp_path: Path) -> None:
    make_tree(tmp_path)
    bundler = bundling.CopyTreeBundling(bundling.SHARED_LAYER_ENTRIES, root=tmp_path)
    before = bundler.fingerprint()
    (tmp_path / "shared" / "__pycache__" / "other.pyc").write_bytes(b"\1")
    assert bundler.fingerprint() == before
    (tmp_path / "shared" / "pkg" / "mod.py").write_text("VALUE = 2\n")
    assert bundler.fingerprint() != before


def test_function_asset_holds_only_its_folder_and_the_package_marker() -> None:
    for definition in FUNCTIONS:
        entries = bundling.function_entries(definition.folder)
        targets = {e.target for e in entries}
        assert targets == {"functions/__init__.py", f"functions/{definition.folder}"}


def test_dependencies_are_the_pyproject_runtime_list() -> None:
    expected = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert list(bundling.runtime_dependencies()) == expected


def test_pip_installs_lambda_platform_wheels_into_python(tmp_path: Path) -> None:
    bundler = bundling.PipInstallBundling(["example==1.0"])
    arguments = bundler.pip_arguments(str(tmp_path))

    def value(flag: str) -> str:
        return arguments[arguments.index(flag) + 1]

    assert arguments[0] == "install"
    assert value("--target") == str(tmp_path / "python")
    assert value("--platform") == "manylinux2014_aarch64"
    assert value("--python-version") == "3.11"
    assert value("--implementation") == "cp"
    assert "--only-binary=:all:" in arguments
    assert value("--constraint") == str(PROJECT_ROOT / "constraints.txt")
    assert arguments[-1] == "example==1.0"


def test_pip_hash_changes_with_a_pin() -> None:
    assert bundling.PipInstallBundling(["a==1"]).fingerprint() != bundling.PipInstallBundling(["a==2"]).fingerprint()


@jsii.implements(cdk.ILocalBundling)
class RecordingBundling:
    """Counts calls; bundles an empty marker file."""

    def __init__(self) -> None:
        self.calls = 0

    def try_bundle(self, output_dir: str, *_args: Any, **_options: Any) -> bool:
        self.calls += 1
        (Path(output_dir) / "marker.txt").write_text("bundled")
        return True


def synth_with(bundler: RecordingBundling, outdir: Path, **context: Any) -> None:
    app = cdk.App(context=synth_context(**context), outdir=str(outdir))
    stack = cdk.Stack(app, "BundlingProbe")
    lambda_.LayerVersion(
        stack,
        "Layer",
        code=lambda_.Code.from_asset(
            str(PROJECT_ROOT / "infra"),
            asset_hash=f"probe-{outdir.name}",
            asset_hash_type=cdk.AssetHashType.CUSTOM,
            bundling=cdk.BundlingOptions(image=bundling.RUNTIME.bundling_image, local=bundler),
        ),
    )
    app.synth()


def test_empty_bundling_stacks_skips_local_bundling(tmp_path: Path) -> None:
    skipped, bundled = RecordingBundling(), RecordingBundling()

    synth_with(skipped, tmp_path / "skipped")  # synth_context sets aws:cdk:bundling-stacks = []
    synth_with(bundled, tmp_path / "bundled", **{BUNDLING_STACKS: ["**"]})

    assert skipped.calls == 0
    assert bundled.calls == 1


# --- the dependencies layer covers the code's imports --------------------------------------
LOCAL_PACKAGES = {"shared", "functions"}


def normalise(name: str) -> str:
    """PEP 503 name normalisation, so 'pydantic_core' and 'pydantic-core' compare equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_top_level_modules(*roots: Path) -> dict[str, set[str]]:
    """Top-level module -> files importing it, for absolute imports in the given trees."""
    found: dict[str, set[str]] = {}
    for root in roots:
        for path in root.rglob("*.py"):
            if "tests" in path.relative_to(root).parts:
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(PROJECT_ROOT)))
    return found


def distribution_closure(requirements: list[str]) -> set[str]:
    """Every distribution the requirements pull in (as installed here), extras and markers applied."""
    seen: set[str] = set()
    pending = [(Requirement(r), frozenset(Requirement(r).extras)) for r in requirements]
    while pending:
        requirement, extras = pending.pop()
        name = normalise(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        for child in metadata.requires(requirement.name) or []:
            parsed = Requirement(child)
            environments = [{"extra": e} for e in extras] or [{"extra": ""}]
            if parsed.marker is None or any(parsed.marker.evaluate(env) for env in environments):
                pending.append((parsed, frozenset(parsed.extras)))
    return seen


def test_dependencies_layer_covers_every_third_party_import() -> None:
    """shared/ and functions/ may import only the stdlib, themselves and the layer's packages."""
    provided = distribution_closure(list(bundling.runtime_dependencies()))
    module_owners = metadata.packages_distributions()

    missing: dict[str, set[str]] = {}
    for module, files in imported_top_level_modules(PROJECT_ROOT / "shared", PROJECT_ROOT / "functions").items():
        if module in sys.stdlib_module_names or module in LOCAL_PACKAGES or module == "__future__":
            continue
        owners = {normalise(d) for d in module_owners.get(module, [])}
        if not owners & provided:
            missing[module] = files
    assert not missing, (
        "imported at runtime but not in pyproject [project] dependencies (so not in the Lambda layer): "
        + "; ".join(f"{m} (from {', '.join(sorted(f))})" for m, f in sorted(missing.items()))
    )
