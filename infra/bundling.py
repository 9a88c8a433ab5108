"""Lambda code and layers, bundled on this machine: no docker.

Three kinds of asset, so that what changes often is small and what is large changes rarely:

* **dependencies layer** - ``pip install --target python/`` of the ``[project] dependencies`` of
  ``pyproject.toml`` (constrained by ``constraints.txt``), as wheels for Lambda's platform
  (``manylinux2014_aarch64``, CPython 3.11). Its asset hash is the dependency pins and the
  pip flags, so it is rebuilt only when a pin changes, never because our code did.
* **shared layer** - the ``shared/`` domain library under ``python/shared``.
* **function code** - ``functions/__init__.py`` and ``functions/<folder>/``: one small asset
  per function, so a change to one handler redeploys one function.

Each asset carries a custom hash computed here from the files it contains, so CDK never
fingerprints the repository, and a skipped bundle (``aws:cdk:bundling-stacks = []``, what the
infra tests use) costs nothing. ``try_bundle`` never returns ``False``: that would make CDK fall
back to docker bundling; a failure raises instead.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

from infra.config import CONSTRAINTS, PROJECT_ROOT, PYPROJECT

#: Lambda's Python and platform: the wheels pip may choose for the dependencies layer.
PYTHON_VERSION = "3.11"
PIP_PLATFORM = "manylinux2014_aarch64"
RUNTIME = lambda_.Runtime.PYTHON_3_11
ARCHITECTURE = lambda_.Architecture.ARM_64

#: Lambda layers are unpacked under /opt; /opt/python is on the runtime's sys.path.
LAYER_PYTHON_DIR = "python"

#: Bumped when the bundling procedure changes in a way the file hashes cannot see.
BUNDLING_SCHEME = "flitstack-bundling-v1"

_SKIPPED_DIRS = frozenset({"__pycache__", "tests", ".mypy_cache", ".pytest_cache", ".ruff_cache"})
_SKIPPED_SUFFIXES = frozenset({".pyc", ".pyo"})


def runtime_dependencies(pyproject: Path = PYPROJECT) -> tuple[str, ...]:
    """The ``[project] dependencies`` requirement strings: what the Lambda runtime needs."""
    data = tomllib.loads(pyproject.read_text())
    dependencies = data.get("project", {}).get("dependencies", [])
    if not dependencies or not all(isinstance(d, str) for d in dependencies):
        raise ValueError(f"{pyproject}: [project] dependencies must be a non-empty list of strings")
    return tuple(dependencies)


def _digest(parts: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True)
class TreeEntry:
    """Copy ``source`` (a file or directory, relative to the project root) to ``target`` in the asset."""

    source: str
    target: str


def iter_tree_files(root: Path, entries: Sequence[TreeEntry]) -> Iterator[tuple[Path, str]]:
    """Every file the entries cover, as (absolute source path, path inside the asset), sorted.

    Skips caches, compiled files, hidden files and ``tests`` folders. A missing source is
    skipped (the function folders are added by other work streams as they land).
    """
    found: list[tuple[Path, str]] = []
    for entry in entries:
        source = root / entry.source
        if source.is_file():
            found.append((source, entry.target))
            continue
        if not source.is_dir():
            continue
        for path in source.rglob("*"):
            relative = path.relative_to(source)
            if not path.is_file() or path.suffix in _SKIPPED_SUFFIXES:
                continue
            if any(part in _SKIPPED_DIRS or part.startswith(".") for part in relative.parts):
                continue
            found.append((path, f"{entry.target}/{relative.as_posix()}"))
    yield from sorted(found, key=lambda item: item[1])


@jsii.implements(cdk.ILocalBundling)
class CopyTreeBundling:
    """Local bundling that copies project source trees into the asset (no install step)."""

    def __init__(self, entries: Sequence[TreeEntry], root: Path = PROJECT_ROOT) -> None:
        self.entries = tuple(entries)
        self.root = root

    def fingerprint(self) -> str:
        """Hash of every copied path and its content: the asset hash."""
        parts: list[bytes] = [BUNDLING_SCHEME.encode(), b"copy-tree"]
        for source, target in iter_tree_files(self.root, self.entries):
            parts += [target.encode(), source.read_bytes()]
        return _digest(parts)

    def try_bundle(self, output_dir: str, *_args: Any, **_options: Any) -> bool:
        out = Path(output_dir)
        for source, target in iter_tree_files(self.root, self.entries):
            destination = out / target
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
        return True


@jsii.implements(cdk.ILocalBundling)
class PipInstallBundling:
    """Local bundling that ``pip install --target``s requirements as Lambda-platform wheels."""

    def __init__(
        self,
        requirements: Sequence[str],
        constraints: Path | None = CONSTRAINTS,
        target: str = LAYER_PYTHON_DIR,
    ) -> None:
        self.requirements = tuple(requirements)
        self.constraints = constraints if constraints is not None and constraints.exists() else None
        self.target = target

    def pip_arguments(self, output_dir: str) -> list[str]:
        """The ``pip install`` arguments (after ``python -m pip``) that fill ``output_dir``."""
        arguments = [
            "install",
            "--target",
            str(Path(output_dir) / self.target),
            "--platform",
            PIP_PLATFORM,
            "--implementation",
            "cp",
            "--python-version",
            PYTHON_VERSION,
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
        ]
        if self.constraints is not None:
            arguments += ["--constraint", str(self.constraints)]
        return [*arguments, *self.requirements]

    def fingerprint(self) -> str:
        """Hash of the requirements, the constraints and the target platform: the asset hash."""
        parts = [BUNDLING_SCHEME.encode(), b"pip", PIP_PLATFORM.encode(), PYTHON_VERSION.encode()]
        parts += [requirement.encode() for requirement in self.requirements]
        if self.constraints is not None:
            parts.append(self.constraints.read_bytes())
        return _digest(parts)

    def try_bundle(self, output_dir: str, *_args: Any, **_options: Any) -> bool:
        command = [sys.executable, "-m", "pip", *self.pip_arguments(output_dir)]
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            # Raise rather than return False: False would make CDK try docker, which we never use.
            raise RuntimeError(
                f"pip could not bundle the Lambda dependencies layer (exit {result.returncode}).\n"
                f"command: {' '.join(command)}\n{result.stderr.strip()[-4000:]}"
            )
        return True


def _local_asset(bundler: CopyTreeBundling | PipInstallBundling) -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(PROJECT_ROOT),
        asset_hash=bundler.fingerprint(),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        bundling=cdk.BundlingOptions(
            # Required by the API, never pulled: the local bundler always bundles (or raises).
            image=RUNTIME.bundling_image,
            local=bundler,
        ),
    )


def dependencies_layer_code(requirements: Sequence[str] | None = None) -> lambda_.Code:
    """The third-party dependencies layer (``python/<packages>``)."""
    return _local_asset(PipInstallBundling(requirements or runtime_dependencies()))


SHARED_LAYER_ENTRIES = (TreeEntry("shared", f"{LAYER_PYTHON_DIR}/shared"),)


def shared_layer_code() -> lambda_.Code:
    """The ``shared/`` domain library layer (``python/shared``)."""
    return _local_asset(CopyTreeBundling(SHARED_LAYER_ENTRIES))


def function_entries(folder: str) -> tuple[TreeEntry, ...]:
    """The files of one function's asset: the ``functions`` package marker and its folder."""
    return (
        TreeEntry("functions/__init__.py", "functions/__init__.py"),
        TreeEntry(f"functions/{folder}", f"functions/{folder}"),
    )


def function_code(folder: str) -> lambda_.Code:
    """The code asset of ``functions/<folder>``; handler ``functions.<folder>.handler.handler``."""
    return _local_asset(CopyTreeBundling(function_entries(folder)))


def handler_exists(folder: str, root: Path = PROJECT_ROOT) -> bool:
    return (root / "functions" / folder / "handler.py").is_file()
