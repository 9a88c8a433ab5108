"""The synthesized FlitStack template: resources match infra/resources.py, the ASL is inlined with
every substitution resolved, IAM is exactly what the workflows and functions need, and cdk-nag's
AWS Solutions pack has nothing left to say.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import aws_cdk as cdk
import cdk_nag
import pytest
from aws_cdk.assertions import Annotations, Match, Template

import infra.stack as stack_module
from infra.config import DEFAULT_SENDER
from infra.resources import (
    AUDIT,
    CROSSWALK,
    DATA_BUCKET_VARIABLE,
    FUNCTIONS,
    MIGRATE,
    STATE_MACHINES,
    TABLES,
    StateMachineDef,
    function_arn_variable,
    state_machine_arn_env,
)
from infra.stack import API_FOLDER, MANAGEMENT_ROUTES, PUBLIC_ROUTES, SECRETS_PREFIX, FlitStackStack, env_name
from tests.infra.conftest import API_FUNCTION, STACK_NAME, load_app_module, synth_context

pytestmark = [pytest.mark.infra, pytest.mark.timeout(120)]

Json = dict[str, Any]


# --- helpers --------------------------------------------------------------------------------
def logical_id(stack: cdk.Stack, construct: Any) -> str:
    return stack.get_logical_id(construct.node.default_child)


def resources_of(template_json: Json, resource_type: str) -> dict[str, Json]:
    return {k: v for k, v in template_json["Resources"].items() if v["Type"] == resource_type}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(template_json: Json, role_id: str) -> list[Json]:
    """Every statement of every inline policy attached to the role."""
    statements: list[Json] = []
    for policy in resources_of(template_json, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    role = template_json["Resources"][role_id]["Properties"]
    for inline in role.get("Policies", []):
        statements += inline["PolicyDocument"]["Statement"]
    return statements


def resources_for_action(statements: list[Json], action: str) -> list[Any]:
    found: list[Any] = []
    for statement in statements:
        if statement["Effect"] == "Allow" and action in as_list(statement["Action"]):
            found += as_list(statement["Resource"])
    return found


def joined(value: Any) -> str:
    """A Fn::Join ARN rendered as text, pseudo parameters as ``<AWS::...>`` (cdk-nag's spelling)."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(joined(p) for p in parts)
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    raise AssertionError(f"unexpected intrinsic {value}")


def machine_arn_text(stack: FlitStackStack, definition: StateMachineDef) -> str:
    return (
        "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:stateMachine:"
        f"{stack.state_machine_name(definition)}"
    )


def iter_states(states: Json) -> Iterator[tuple[str, Json]]:
    """Every state, including those nested in Map item processors and Parallel branches."""
    for name, state in states.items():
        yield name, state
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from iter_states(processor["States"])
        for branch in state.get("Branches", []):
            yield from iter_states(branch["States"])


# --- DynamoDB -------------------------------------------------------------------------------
@pytest.mark.parametrize("definition", TABLES, ids=lambda t: t.logical_id)
def test_table_keys_and_settings_match_resources(definition: Any, stack: FlitStackStack, template_json: Json) -> None:
    table = template_json["Resources"][logical_id(stack, stack.tables[definition.logical_id])]
    props = table["Properties"]

    expected_keys = [{"AttributeName": definition.partition_key, "KeyType": "HASH"}]
    if definition.sort_key:
        expected_keys.append({"AttributeName": definition.sort_key, "KeyType": "RANGE"})
    assert props["KeySchema"] == expected_keys
    assert {a["AttributeName"] for a in props["AttributeDefinitions"]} == {k["AttributeName"] for k in expected_keys}
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    if definition.ttl_attribute:
        assert props["TimeToLiveSpecification"] == {
            "AttributeName": definition.ttl_attribute,
            "Enabled": True,
        }
    else:
        assert "TimeToLiveSpecification" not in props
    if definition in (AUDIT, CROSSWALK):
        assert table["DeletionPolicy"] == "Retain"
        assert table["UpdateReplacePolicy"] == "Retain"


def test_only_declared_tables_exist(template: Template) -> None:
    template.resource_count_is("AWS::DynamoDB::Table", len(TABLES))


# --- S3 -------------------------------------------------------------------------------------
def test_data_bucket_is_private_encrypted_versioned_logged_and_expires_artefacts(
    stack: FlitStackStack, template_json: Json
) -> None:
    bucket_id = logical_id(stack, stack.data_bucket)
    props = template_json["Resources"][bucket_id]["Properties"]

    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "DestinationBucketName" in props["LoggingConfiguration"]
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-run-artefacts"]["ExpirationInDays"] > 0
    assert rules["expire-run-artefacts"]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] > 0

    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in resources_of(template_json, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    assert len(policies) == 1
    denies_insecure = [
        s
        for s in policies[0]
        if s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    ]
    assert denies_insecure, "the data bucket policy must deny requests without TLS"


# --- Lambda ---------------------------------------------------------------------------------
@pytest.mark.parametrize("definition", FUNCTIONS, ids=lambda f: f.logical_id)
def test_function_runtime_sizing_tracing_and_environment(
    definition: Any, stack: FlitStackStack, template_json: Json
) -> None:
    function = stack.functions[definition.folder]
    props = template_json["Resources"][logical_id(stack, function)]["Properties"]

    assert props["Runtime"] == "python3.11"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == f"functions.{definition.folder}.handler.handler"
    assert props["MemorySize"] == definition.memory_mb
    assert props["EphemeralStorage"] == {"Size": definition.ephemeral_mb}
    assert props["Timeout"] == definition.timeout_s
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["Layers"] == [
        {"Ref": logical_id(stack, stack.dependencies_layer)},
        {"Ref": logical_id(stack, stack.shared_layer)},
    ]

    variables = props["Environment"]["Variables"]
    for table in TABLES:
        assert variables[env_name(table.logical_id)] == {"Ref": logical_id(stack, stack.tables[table.logical_id])}
    assert {"RUNS_TABLE", "AUDIT_TABLE", "CROSSWALK_TABLE", "IDEMPOTENCY_TABLE"} <= variables.keys()
    assert variables["DATA_BUCKET"] == {"Ref": logical_id(stack, stack.data_bucket)}
    assert variables["POWERTOOLS_SERVICE_NAME"] == "flitstack"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "FlitStack"
    assert variables["LOG_LEVEL"] in {"DEBUG", "INFO", "WARNING", "ERROR"}


@pytest.mark.parametrize("definition", FUNCTIONS, ids=lambda f: f.logical_id)
def test_function_role_grants_only_its_tables_bucket_and_secrets(
    definition: Any, stack: FlitStackStack, template_json: Json
) -> None:
    function_props = template_json["Resources"][logical_id(stack, stack.functions[definition.folder])]["Properties"]
    role_id = function_props["Role"]["Fn::GetAtt"][0]
    statements = role_statements(template_json, role_id)

    table_arns = resources_for_action(statements, "dynamodb:PutItem")
    assert sorted(json.dumps(a) for a in table_arns) == sorted(
        json.dumps({"Fn::GetAtt": [logical_id(stack, stack.tables[t]), "Arn"]}) for t in definition.tables
    )
    bucket_id = logical_id(stack, stack.data_bucket)
    assert [joined(r) for r in resources_for_action(statements, "s3:PutObject")] == [f"<{bucket_id}.Arn>/*"]

    secrets = [joined(r) for r in resources_for_action(statements, "secretsmanager:GetSecretValue")]
    expected = (
        [f"arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:{SECRETS_PREFIX}*"]
        if definition.reads_secrets
        else []
    )
    assert secrets == expected


def test_no_statement_uses_an_action_wildcard(template_json: Json) -> None:
    for name, policy in resources_of(template_json, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            wild = [a for a in as_list(statement["Action"]) if "*" in a]
            assert not wild, f"{name} grants wildcard actions {wild}"


# --- Step Functions -------------------------------------------------------------------------
@pytest.mark.parametrize("definition", STATE_MACHINES, ids=lambda m: m.logical_id)
def test_definition_is_the_asl_file_with_every_substitution_resolved(
    definition: StateMachineDef, stack: FlitStackStack, template_json: Json
) -> None:
    machine = stack.state_machines[definition.logical_id]
    props = template_json["Resources"][logical_id(stack, machine)]["Properties"]
    # CDK inlines the ASL text as DefinitionString and hands the values to CloudFormation as
    # DefinitionSubstitutions, which it applies to the ${Var} placeholders at deploy time.
    body, variables = props["DefinitionString"], props["DefinitionSubstitutions"]
    assert isinstance(body, str), "the ASL must be inlined, not an S3 asset (DefinitionBody.from_string)"
    asl_text = definition.path.read_text()

    # Every ${...} left in the template is a substitution CloudFormation resolves ...
    placeholders = set(re.findall(r"\$\{([^}]+)\}", body))
    assert placeholders == set(variables), "every ${Var} must be a DefinitionSubstitution, and no extra ones"
    # ... to the ARN of the function it names, or to the data bucket.
    for folder in definition.functions:
        variable = function_arn_variable(folder)
        if variable in placeholders:
            assert variables[variable] == {"Fn::GetAtt": [logical_id(stack, stack.functions[folder]), "Arn"]}, variable
    if DATA_BUCKET_VARIABLE in placeholders:
        assert variables[DATA_BUCKET_VARIABLE] == {"Ref": logical_id(stack, stack.data_bucket)}
    unknown = placeholders - {function_arn_variable(f) for f in definition.functions} - {DATA_BUCKET_VARIABLE}
    assert not unknown

    # Resolving them yields the ASL file, state for state, with no '${' left.
    assert body == asl_text
    rendered = body
    for variable in variables:
        rendered = rendered.replace("${" + variable + "}", f"resolved-{variable}")
    assert "${" not in rendered
    deployed, source = json.loads(rendered), json.loads(asl_text)
    assert dict(iter_states(deployed["States"])).keys() == dict(iter_states(source["States"])).keys()
    assert deployed["StartAt"] == source["StartAt"]


@pytest.mark.parametrize("definition", STATE_MACHINES, ids=lambda m: m.logical_id)
def test_machine_is_standard_logged_without_data_and_traced(
    definition: StateMachineDef, stack: FlitStackStack, template_json: Json
) -> None:
    props = template_json["Resources"][logical_id(stack, stack.state_machines[definition.logical_id])]["Properties"]
    assert props["StateMachineType"] == "STANDARD"
    assert props["StateMachineName"] == stack.state_machine_name(definition)
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert props["TracingConfiguration"] == {"Enabled": True}


@pytest.mark.parametrize("definition", STATE_MACHINES, ids=lambda m: m.logical_id)
def test_machine_may_invoke_exactly_its_functions(
    definition: StateMachineDef, stack: FlitStackStack, template_json: Json
) -> None:
    props = template_json["Resources"][logical_id(stack, stack.state_machines[definition.logical_id])]["Properties"]
    statements = role_statements(template_json, props["RoleArn"]["Fn::GetAtt"][0])

    invoked = resources_for_action(statements, "lambda:InvokeFunction")
    expected = [{"Fn::GetAtt": [logical_id(stack, stack.functions[f]), "Arn"]} for f in definition.functions]
    assert sorted(map(json.dumps, invoked)) == sorted(map(json.dumps, expected))
    other_lambda = [
        a for s in statements for a in as_list(s["Action"]) if a.startswith("lambda:") and a != "lambda:InvokeFunction"
    ]
    assert not other_lambda


@pytest.mark.parametrize("definition", STATE_MACHINES, ids=lambda m: m.logical_id)
def test_distributed_map_permissions_point_at_the_machine_itself(
    definition: StateMachineDef, stack: FlitStackStack, template_json: Json
) -> None:
    props = template_json["Resources"][logical_id(stack, stack.state_machines[definition.logical_id])]["Properties"]
    statements = role_statements(template_json, props["RoleArn"]["Fn::GetAtt"][0])
    asl = json.loads(definition.path.read_text())
    maps = [
        s
        for _, s in iter_states(asl["States"])
        if s["Type"] == "Map" and s.get("ItemProcessor", {}).get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED"
    ]
    if not maps:
        pytest.skip(f"{definition.asl_file} has no Distributed Map")

    own = machine_arn_text(stack, definition)
    assert [joined(r) for r in resources_for_action(statements, "states:StartExecution")] == [own]
    children = own.replace(":stateMachine:", ":execution:") + "/*"
    for action in ("states:DescribeExecution", "states:StopExecution", "states:RedriveExecution"):
        assert [joined(r) for r in resources_for_action(statements, action)] == [children], action
    if any("ItemReader" in m for m in maps):
        bucket_id = logical_id(stack, stack.data_bucket)
        assert [joined(r) for r in resources_for_action(statements, "s3:GetObject")] == [f"<{bucket_id}.Arn>/*"]


#: Service integrations the stack grants IAM for. A new one in an ASL file needs a grant in
#: infra/stack.py first (CDK derives nothing from the ASL); then add it here.
GRANTED_TASK_RESOURCES = {"arn:aws:states:::lambda:invoke", "arn:aws:states:::lambda:invoke.waitForTaskToken"}
GRANTED_ITEM_READERS = {"arn:aws:states:::s3:getObject"}


@pytest.mark.parametrize("definition", STATE_MACHINES, ids=lambda m: m.logical_id)
def test_every_integration_in_the_asl_is_one_the_stack_grants(definition: StateMachineDef) -> None:
    asl = json.loads(definition.path.read_text())
    for name, state in iter_states(asl["States"]):
        if state["Type"] == "Task":
            assert state["Resource"] in GRANTED_TASK_RESOURCES, f"{name}: grant IAM for {state['Resource']}"
        if "ItemReader" in state:
            assert state["ItemReader"]["Resource"] in GRANTED_ITEM_READERS, name
        assert "ResultWriter" not in state, f"{name}: ResultWriter needs s3:PutObject for the machine"


#: What Step Functions accepts as a Map run Label (CDK's DistributedMap applies the same rule):
#: at most 40 characters, no whitespace, brackets, wildcards or special characters.
_INVALID_LABEL = re.compile(r"[\s?*<>{}\[\]:;,|^~$#%&`\"\\/]|[\u0000-\u001f\u007f-\u009f]")


@pytest.mark.parametrize("definition", STATE_MACHINES, ids=lambda m: m.logical_id)
def test_distributed_map_labels_are_valid(definition: StateMachineDef) -> None:
    """A Label with ':' fails CreateStateMachine; it is also part of child execution ARNs."""
    asl = json.loads(definition.path.read_text())
    bad = {
        name: state["Label"]
        for name, state in iter_states(asl["States"])
        if "Label" in state and (len(state["Label"]) > 40 or _INVALID_LABEL.search(state["Label"]))
    }
    assert not bad, f"{definition.asl_file}: invalid Map Label(s) {bad}"


# --- API ------------------------------------------------------------------------------------
def api_methods(template_json: Json) -> dict[tuple[str, str], Json]:
    """(HTTP method, path) -> method properties, paths rebuilt from the resource tree."""
    resources = resources_of(template_json, "AWS::ApiGateway::Resource")

    def path_of(resource: Any) -> str:
        if isinstance(resource, dict) and "Fn::GetAtt" in resource:  # the root resource
            return ""
        props = resources[resource["Ref"]]["Properties"]
        return f"{path_of(props['ParentId'])}/{props['PathPart']}"

    return {
        (m["Properties"]["HttpMethod"], path_of(m["Properties"]["ResourceId"])): m["Properties"]
        for m in resources_of(template_json, "AWS::ApiGateway::Method").values()
    }


def test_management_routes_require_iam_and_only_signed_routes_are_open(api_template_json: Json) -> None:
    methods = api_methods(api_template_json)
    for route in MANAGEMENT_ROUTES:
        assert methods[("ANY", route)]["AuthorizationType"] == "AWS_IAM", route
    for http_method, route in PUBLIC_ROUTES:
        assert methods[(http_method, route)]["AuthorizationType"] == "NONE", route
    open_routes = {key for key, props in methods.items() if props["AuthorizationType"] == "NONE"}
    assert open_routes == set(PUBLIC_ROUTES), "no other route may be unauthenticated"
    for key, props in methods.items():
        assert props["Integration"]["Type"] == "AWS_PROXY", key
        assert "RequestValidatorId" in props, key


def test_stage_is_throttled_logged_and_traced(api_template_json: Json) -> None:
    (stage,) = resources_of(api_template_json, "AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert "DestinationArn" in props["AccessLogSetting"]
    assert "$context.path" not in props["AccessLogSetting"]["Format"], "approval tokens travel in the path"
    assert props["TracingEnabled"] is True
    (settings,) = props["MethodSettings"]
    assert settings["ThrottlingRateLimit"] > 0
    assert settings["ThrottlingBurstLimit"] > 0
    assert settings["LoggingLevel"] in {"ERROR", "INFO"}
    assert settings["DataTraceEnabled"] is False


def test_api_function_may_start_workflows_answer_approvals_and_mail(
    api_stack: FlitStackStack, api_template_json: Json
) -> None:
    stack, template_json = api_stack, api_template_json
    props = template_json["Resources"][logical_id(stack, stack.functions[API_FOLDER])]["Properties"]
    statements = role_statements(template_json, props["Role"]["Fn::GetAtt"][0])

    started = {joined(r) for r in resources_for_action(statements, "states:StartExecution")}
    assert started == {machine_arn_text(stack, m) for m in STATE_MACHINES}
    for action in ("states:SendTaskSuccess", "states:SendTaskFailure"):
        assert [joined(r) for r in resources_for_action(statements, action)] == [machine_arn_text(stack, MIGRATE)]
    mail = {joined(r) for r in resources_for_action(statements, "ses:SendEmail")}
    domain = DEFAULT_SENDER.split("@")[1]
    assert mail == {
        f"arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:identity/{DEFAULT_SENDER}",
        f"arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:identity/{domain}",
    }
    assert props["Environment"]["Variables"][f"{env_name(MIGRATE.logical_id)}_ARN"]


def test_outputs(stack: FlitStackStack, template_json: Json, api_template_json: Json) -> None:
    expected = {"DataBucketName", *(f"{m.logical_id}Arn" for m in STATE_MACHINES)}
    if stack.api is not None:
        expected.add("ApiUrl")
    assert set(template_json["Outputs"]) == expected
    assert set(api_template_json["Outputs"]) == expected | {"ApiUrl"}


def test_api_is_deployed_only_with_its_function(stack: FlitStackStack, template: Template) -> None:
    has_api = API_FOLDER in {f.folder for f in FUNCTIONS}
    assert (stack.api is not None) == has_api
    template.resource_count_is("AWS::ApiGateway::RestApi", 1 if has_api else 0)


# --- cdk-nag --------------------------------------------------------------------------------
def nag_findings(stack: cdk.Stack) -> list[tuple[str, str | None, str | None]]:
    report = cdk_nag.AwsSolutionsChecks(verbose=True).validate_scope(stack)
    return [
        (violation.rule_name, violation.severity, resource.construct_path)
        for violation in report.violations
        for resource in violation.violating_resources
    ]


@pytest.mark.parametrize("which", ["stack", "api_stack"])
def test_cdk_nag_aws_solutions_finds_nothing_unacknowledged(which: str, request: pytest.FixtureRequest) -> None:
    stack: FlitStackStack = request.getfixturevalue(which)
    assert nag_findings(stack) == []
    # cdk-nag 3 reports through policy validation, not annotations; no annotation error either.
    annotations = Annotations.from_stack(stack)
    assert annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*")) == []
    assert annotations.find_error("*", Match.any_value()) == []


def acknowledgments(stack: cdk.Stack) -> dict[tuple[str, str], str]:
    """(construct path, rule id) -> reason, for every Validations.acknowledge in the stack."""
    key = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    found: dict[tuple[str, str], str] = {}
    for construct in stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == key:
                for rule, reason in entry.data.items():
                    found[(construct.node.path, rule.split("::", 1)[-1])] = reason
    return found


def test_every_acknowledgment_is_specific_and_still_needed(
    api_stack: FlitStackStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    acknowledged = acknowledgments(api_stack)
    assert acknowledged, "expected the documented acknowledgments"
    for (path, rule), reason in acknowledged.items():
        assert rule.startswith("AwsSolutions-"), (path, rule)
        assert len(reason) >= 60, f"{path} {rule}: give the specific reason"
        if rule.startswith(("AwsSolutions-IAM5", "AwsSolutions-IAM4")):
            assert "[" in rule, f"{path}: acknowledge the single finding (Rule[finding]), not the rule"

    # Build the same stack with acknowledgments switched off: every one must match a finding.
    monkeypatch.setattr(stack_module, "acknowledge", lambda *_args, **_kwargs: None)
    bare = FlitStackStack(cdk.App(context=synth_context()), STACK_NAME, functions=api_stack.function_defs)
    findings = {(rule, path or "") for rule, _severity, path in nag_findings(bare)}
    for path, rule in acknowledged:
        assert any(r == rule and (p == path or p.startswith(path + "/")) for r, p in findings), (
            f"stale acknowledgment {rule} on {path}"
        )


def test_app_py_synthesizes_with_the_nag_plugin(tmp_path: Any) -> None:
    app_module = load_app_module()
    app = app_module.build_app(context=synth_context(), outdir=str(tmp_path))
    assembly = app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
    assert assembly.get_stack_by_name(STACK_NAME).template["Resources"]
    report = tmp_path / "validation-report.json"
    if report.exists():
        plugins = {p["pluginName"] for p in json.loads(report.read_text())["pluginReports"] if p["violations"]}
        assert "AwsSolutions" not in plugins


def test_apigw_cloudwatch_role_can_be_left_to_the_account() -> None:
    """With ``-c flitstack:apigw-cloudwatch-role=false`` (a string, from the CLI) the stack creates
    no account-level API Gateway role, and needs no acknowledgment for its managed policy."""
    context = synth_context(**{"flitstack:apigw-cloudwatch-role": "false"})
    with_api = FUNCTIONS if API_FOLDER in {f.folder for f in FUNCTIONS} else (*FUNCTIONS, API_FUNCTION)
    stack = FlitStackStack(cdk.App(context=context), STACK_NAME, functions=with_api)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::ApiGateway::Account", 0)
    assert nag_findings(stack) == []


def test_api_function_may_read_executions_and_reports_of_its_runs(
    api_stack: FlitStackStack, api_template_json: Json
) -> None:
    stack, template_json = api_stack, api_template_json
    props = template_json["Resources"][logical_id(stack, stack.functions[API_FOLDER])]["Properties"]
    statements = role_statements(template_json, props["Role"]["Fn::GetAtt"][0])

    described = {joined(r) for r in resources_for_action(statements, "states:DescribeExecution")}
    assert described == {
        f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{stack.state_machine_name(m)}:*"
        for m in STATE_MACHINES
    }
    bucket_id = logical_id(stack, stack.data_bucket)
    readable = [joined(r) for r in resources_for_action(statements, "s3:GetObject")]
    assert any(re.fullmatch(r.replace("*", ".*"), f"<{bucket_id}.Arn>/runs/r1/reports/summary.json") for r in readable)
    for machine in STATE_MACHINES:
        assert props["Environment"]["Variables"][state_machine_arn_env(machine.logical_id)]
