"""cfn-lint on the synthesized template: CloudFormation schema, intrinsic functions and the
inlined ASL (its Step Functions schema check) must all pass.

W3005 (an explicit DependsOn that is also implied by a Ref) is ignored: CDK emits those on
purpose, e.g. a function depending on the policy attached to its role.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint_file

pytestmark = [pytest.mark.infra, pytest.mark.timeout(120)]


def test_cfn_lint_reports_nothing(template_files: list[Path]) -> None:
    for template_file in template_files:
        matches = lint_file(template_file, config=ManualArgs(ignore_checks=["W3005"]))
        assert [str(m) for m in matches] == [], template_file.name
