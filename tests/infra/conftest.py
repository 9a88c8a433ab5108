"""Infra test fixtures: the stack is built and synthesized once per session, bundling skipped.

Skipping bundling uses CDK's own switch, the ``aws:cdk:bundling-stacks`` context key: with ``[]``
no stack matches, so no asset is bundled (neither locally nor in docker) and every asset keeps
the custom hash :mod:`infra.bundling` computed from its inputs. The template is then exactly the
deployable one except for the asset file contents.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from infra.config import BUNDLING_STACKS, PROJECT_ROOT, cdk_json_context
from infra.resources import FUNCTIONS, TABLES, FunctionDef
from infra.stack import API_FOLDER, FlitStackStack

STACK_NAME = "FlitStack"

#: The API function as the lead's resources.py will declare it once functions/api lands; used to
#: test the API Gateway part of the stack before then. The deployed stack uses FUNCTIONS only.
API_FUNCTION = FunctionDef("ApiFunction", API_FOLDER, timeout_s=29, tables=tuple(t.logical_id for t in TABLES))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "infra: CDK stack tests (template assertions, cdk-nag, cfn-lint); one synth per session"
    )


def synth_context(**overrides: Any) -> dict[str, Any]:
    """cdk.json's context (feature flags), with bundling switched off."""
    context = cdk_json_context()
    context[BUNDLING_STACKS] = []
    context.update(overrides)
    return context


def load_app_module() -> ModuleType:
    """``app.py`` at the repository root, imported by path (it is not a package module)."""
    spec = importlib.util.spec_from_file_location("flitstack_cdk_app", PROJECT_ROOT / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> FlitStackStack:
    app = cdk.App(context=synth_context(), outdir=str(tmp_path_factory.mktemp("cdk.out")))
    return FlitStackStack(app, STACK_NAME)


@pytest.fixture(scope="session")
def template(stack: FlitStackStack) -> Template:
    return Template.from_stack(stack)


@pytest.fixture(scope="session")
def template_json(template: Template) -> dict[str, Any]:
    return dict(template.to_json())


@pytest.fixture(scope="session")
def api_stack(stack: FlitStackStack, tmp_path_factory: pytest.TempPathFactory) -> FlitStackStack:
    """The stack with the HTTP API: the real one once FUNCTIONS has ``api``, until then one with
    :data:`API_FUNCTION` added."""
    if stack.api is not None:
        return stack
    app = cdk.App(context=synth_context(), outdir=str(tmp_path_factory.mktemp("cdk.out")))
    return FlitStackStack(app, STACK_NAME, functions=(*FUNCTIONS, API_FUNCTION))


@pytest.fixture(scope="session")
def api_template_json(api_stack: FlitStackStack) -> dict[str, Any]:
    return dict(Template.from_stack(api_stack).to_json())


@pytest.fixture(scope="session")
def template_files(
    template_json: dict[str, Any], api_template_json: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Path]]:
    """Both templates as files (identical once the API is part of FUNCTIONS)."""
    folder = tmp_path_factory.mktemp("template")
    paths = []
    for name, body in (("FlitStack", template_json), ("FlitStackWithApi", api_template_json)):
        path = folder / f"{name}.template.json"
        path.write_text(json.dumps(body, indent=1))
        paths.append(path)
    yield paths
