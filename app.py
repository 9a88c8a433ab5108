#!/usr/bin/env python3
"""The CDK app: one environment-agnostic ``FlitStack`` stack, checked by cdk-nag's AWS Solutions pack.

``cdk synth`` / ``cdk deploy`` run this with the context of ``cdk.json``; ``python app.py`` reads the
same context itself (see :func:`infra.config.cdk_json_context`), and writes to ``cdk.out`` so a
second synth reuses the bundled layers.
"""

from __future__ import annotations

import os

# Before jsii starts node: Node 20 is end-of-life for jsii and would print a banner on every run.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
import cdk_nag

from infra.config import PROJECT_ROOT, cdk_json_context
from infra.stack import FlitStackStack

STACK_NAME = "FlitStack"


def build_app(context: dict[str, object] | None = None, outdir: str | None = None) -> cdk.App:
    """The app with the stack and the cdk-nag AWS Solutions checks registered.

    cdk-nag 3 is a policy-validation plugin (``Validations.of(app).add_plugins``), not an
    Aspect: an unacknowledged finding fails ``app.synth()`` and is written to
    ``<outdir>/validation-report.json``.
    """
    app = cdk.App(context=cdk_json_context() if context is None else context, outdir=outdir)
    FlitStackStack(app, STACK_NAME)
    cdk.Validations.of(app).add_plugins(cdk_nag.AwsSolutionsChecks(app, verbose=True))
    return app


def main() -> None:
    # The CLI passes its output directory in CDK_OUTDIR; run directly, write to ./cdk.out.
    outdir = None if os.environ.get("CDK_OUTDIR") else str(PROJECT_ROOT / "cdk.out")
    build_app(outdir=outdir).synth()


if __name__ == "__main__":
    main()
