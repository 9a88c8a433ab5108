"""FlitStack's AWS resources: tables, the data bucket, the functions, the workflows and the API.

Every name and shape comes from :mod:`infra.resources` (shared with the local engine) and the
workflows from ``infra/statemachines/*.asl.json``; this module only decides how they are
deployed. IAM is written out statement by statement: CDK derives nothing from an ASL file,
and the grants we author live in one ``<Name>Permissions`` policy per role, apart from the
statements CDK adds itself (X-Ray, log delivery), so each cdk-nag acknowledgment below
covers only what it names. ``docs/infrastructure.md`` explains each choice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct, IConstruct

from infra import bundling
from infra.config import (
    APIGW_CLOUDWATCH_ROLE_CONTEXT,
    ARTEFACT_RETENTION_CONTEXT,
    DEFAULT_ARTEFACT_RETENTION_DAYS,
    DEFAULT_LOG_LEVEL,
    DEFAULT_SENDER,
    LOG_LEVEL_CONTEXT,
    SENDER_CONTEXT,
)
from infra.resources import (
    API_FOLDER,
    APPROVAL_FOLDER,
    AUDIT,
    CROSSWALK,
    DATA_BUCKET_LOGICAL_ID,
    FUNCTIONS,
    MIGRATE,
    PUBLIC_ROUTES,
    RUNS,
    STATE_MACHINES,
    TABLES,
    FunctionDef,
    StateMachineDef,
    TableDef,
    asl_variables,
    state_machine_arn_env,
)

#: Secrets Manager names every function may read: ``flitstack/<anything>`` (see shared/models.py).
SECRETS_PREFIX = "flitstack/"

#: Tables whose loss would lose the ability to prove or undo a migration: kept on stack deletion.
RETAINED_TABLES = frozenset({RUNS.logical_id, AUDIT.logical_id, CROSSWALK.logical_id})

LOG_RETENTION = logs.RetentionDays.THREE_MONTHS

#: API stage throttling (requests per second / burst), for the whole stage.
API_RATE_LIMIT = 20
API_BURST_LIMIT = 40
API_STAGE = "v1"

#: The management routes (IAM-signed) and the routes the API function verifies itself.
MANAGEMENT_ROUTES = ("/migrations", "/migrations/{proxy+}")

DYNAMODB_DATA_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:UpdateItem",
)

#: ``${Name}`` placeholders in an ASL file (JSONPath never uses ``${``).
_ASL_VARIABLE = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def env_name(logical_id: str) -> str:
    """``RunsTable`` -> ``RUNS_TABLE``; ``MigrateStateMachine`` -> ``MIGRATE_STATE_MACHINE``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", logical_id).upper()


def asl_placeholders(text: str) -> set[str]:
    return set(_ASL_VARIABLE.findall(text))


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on one construct, with the reason it is acceptable."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


class FlitStackStack(cdk.Stack):
    """The whole deployment. Environment-agnostic: account and region come from the deploy."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Sequence[FunctionDef] = FUNCTIONS,
        state_machines: Sequence[StateMachineDef] = STATE_MACHINES,
        **kwargs: Any,
    ) -> None:
        """``functions`` and ``state_machines`` default to infra/resources.py; tests pass others
        to build what has not landed yet (e.g. the API before ``functions/api`` exists).
        """
        kwargs.setdefault("description", "FlitStack: CRM migration engine (Step Functions, Lambda, S3, DynamoDB, API)")
        super().__init__(scope, construct_id, **kwargs)
        self.function_defs = tuple(functions)
        self.machine_defs = tuple(state_machines)
        self.sender = str(self.node.try_get_context(SENDER_CONTEXT) or DEFAULT_SENDER)
        self.log_level = str(self.node.try_get_context(LOG_LEVEL_CONTEXT) or DEFAULT_LOG_LEVEL)

        self.function_policies: dict[str, iam.Policy] = {}
        self.tables = {t.logical_id: self._table(t) for t in TABLES}
        self.data_bucket = self._buckets()
        self.dependencies_layer, self.shared_layer = self._layers()
        self.functions = {f.folder: self._function(f) for f in self.function_defs}
        self.state_machines = {m.logical_id: self._state_machine(m) for m in self.machine_defs}
        # The API joins when functions/api is in FUNCTIONS (nothing is deployed without a handler).
        self.api = self._api(self.functions[API_FOLDER]) if API_FOLDER in self.functions else None
        if APPROVAL_FOLDER in self.functions:
            self._grant_approval_function(self.functions[APPROVAL_FOLDER])
        for definition in self.function_defs:
            if definition.starts and definition.folder != API_FOLDER:
                self._grant_starts(definition)
        self._outputs()

    def _context_flag(self, key: str, *, default: bool) -> bool:
        """A boolean context value; ``cdk -c key=false`` arrives as the string "false"."""
        value = self.node.try_get_context(key)
        if value is None:
            return default
        if isinstance(value, str):
            return value.strip().lower() not in {"false", "0", "no", "off", ""}
        return bool(value)

    # --- DynamoDB ---------------------------------------------------------------------------
    def _table(self, definition: TableDef) -> dynamodb.Table:
        retained = definition.logical_id in RETAINED_TABLES
        table = dynamodb.Table(
            self,
            definition.logical_id,
            partition_key=dynamodb.Attribute(name=definition.partition_key, type=dynamodb.AttributeType.STRING),
            sort_key=(
                dynamodb.Attribute(name=definition.sort_key, type=dynamodb.AttributeType.STRING)
                if definition.sort_key
                else None
            ),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=definition.ttl_attribute,
            deletion_protection=retained,
            removal_policy=cdk.RemovalPolicy.RETAIN if retained else cdk.RemovalPolicy.DESTROY,
        )
        return table

    # --- S3 ---------------------------------------------------------------------------------
    def _buckets(self) -> s3.Bucket:
        access_logs = s3.Bucket(
            self,
            "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,  # server access logging cannot write to SSE-KMS
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-access-logs", expiration=cdk.Duration.days(365)),
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

        retention_days = int(self.node.try_get_context(ARTEFACT_RETENTION_CONTEXT) or DEFAULT_ARTEFACT_RETENTION_DAYS)
        return s3.Bucket(
            self,
            DATA_BUCKET_LOGICAL_ID,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="data-bucket/",
            lifecycle_rules=[
                # Run artefacts (extracted and load-ready batches, rejects, reports) are copies
                # of tenant data: they live long enough to review and roll back, then go.
                s3.LifecycleRule(
                    id="expire-run-artefacts",
                    expiration=cdk.Duration.days(retention_days),
                    noncurrent_version_expiration=cdk.Duration.days(30),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                ),
                s3.LifecycleRule(id="remove-expired-delete-markers", expired_object_delete_marker=True),
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

    # --- Lambda -----------------------------------------------------------------------------
    def _layers(self) -> tuple[lambda_.LayerVersion, lambda_.LayerVersion]:
        common: dict[str, Any] = {
            "compatible_runtimes": [bundling.RUNTIME],
            "compatible_architectures": [bundling.ARCHITECTURE],
        }
        dependencies = lambda_.LayerVersion(
            self,
            "DependenciesLayer",
            code=bundling.dependencies_layer_code(),
            description="FlitStack third-party runtime dependencies ([project] dependencies)",
            **common,
        )
        shared = lambda_.LayerVersion(
            self,
            "SharedLayer",
            code=bundling.shared_layer_code(),
            description="FlitStack shared/ domain library",
            **common,
        )
        return dependencies, shared

    def _function_environment(self) -> dict[str, str]:
        environment = {f"{env_name(t.logical_id)}": self.tables[t.logical_id].table_name for t in TABLES}
        environment.update(
            {
                "DATA_BUCKET": self.data_bucket.bucket_name,
                "SECRETS_PREFIX": SECRETS_PREFIX,
                "POWERTOOLS_SERVICE_NAME": "flitstack",
                "POWERTOOLS_METRICS_NAMESPACE": "FlitStack",
                # Responses can carry tenant data: keep them out of trace metadata.
                "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
                "LOG_LEVEL": self.log_level,
            }
        )
        return environment

    def _function(self, definition: FunctionDef) -> lambda_.Function:
        name = definition.logical_id
        role = iam.Role(
            self,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {name} (functions/{definition.folder})",
        )
        log_group = logs.LogGroup(
            self, f"{name}Logs", retention=LOG_RETENTION, removal_policy=cdk.RemovalPolicy.DESTROY
        )
        function = lambda_.Function(
            self,
            name,
            description=f"FlitStack functions/{definition.folder}",
            runtime=bundling.RUNTIME,
            architecture=bundling.ARCHITECTURE,
            handler=f"functions.{definition.folder}.handler.handler",
            code=bundling.function_code(definition.folder),
            layers=[self.dependencies_layer, self.shared_layer],
            memory_size=definition.memory_mb,
            ephemeral_storage_size=cdk.Size.mebibytes(definition.ephemeral_mb),
            timeout=cdk.Duration.seconds(definition.timeout_s),
            environment=self._function_environment(),
            tracing=lambda_.Tracing.ACTIVE,
            role=role,
            log_group=log_group,
        )
        if not bundling.handler_exists(definition.folder):
            cdk.Annotations.of(function).add_warning_v2(
                "flitstack:missing-handler",
                f"functions/{definition.folder}/handler.py does not exist yet: the deployed function "
                "would fail on its first invocation.",
            )

        statements = [
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            ),
            *self._data_statements(definition.tables),
        ]
        if definition.reads_secrets:
            statements.append(
                iam.PolicyStatement(
                    sid="ReadFlitStackSecrets",
                    actions=["secretsmanager:GetSecretValue"],
                    resources=[self._secrets_arn_pattern()],
                )
            )
        policy = iam.Policy(self, f"{name}Permissions", roles=[role], statements=statements)
        function.node.add_dependency(policy)
        self.function_policies[definition.folder] = policy

        acknowledge(
            function,
            "AwsSolutions-L1",
            "Pinned to python3.11: pyproject requires-python is >=3.11,<3.12 and the dependency "
            "layer is resolved for CPython 3.11 wheels; moving runtime is a deliberate upgrade.",
        )
        self._acknowledge_xray_default_policy(role)
        self._acknowledge_data_wildcards(policy, definition.reads_secrets)
        return function

    def _data_statements(self, table_ids: Iterable[str]) -> list[iam.PolicyStatement]:
        table_arns = [self.tables[t].table_arn for t in table_ids]
        statements = []
        if table_arns:
            statements.append(
                iam.PolicyStatement(sid="ReadWriteTables", actions=list(DYNAMODB_DATA_ACTIONS), resources=table_arns)
            )
        statements += [
            iam.PolicyStatement(
                sid="ReadWriteRunArtefacts",
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[self.data_bucket.arn_for_objects("*")],
            ),
            iam.PolicyStatement(
                sid="ListRunArtefacts", actions=["s3:ListBucket"], resources=[self.data_bucket.bucket_arn]
            ),
        ]
        return statements

    def _secrets_arn_pattern(self) -> str:
        return self.format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{SECRETS_PREFIX}*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )

    def _acknowledge_xray_default_policy(self, role: iam.Role) -> None:
        default_policy = role.node.try_find_child("DefaultPolicy")
        if default_policy is None:
            return
        acknowledge(
            default_policy,
            "AwsSolutions-IAM5[Resource::*]",
            "CDK adds only X-Ray (xray:PutTraceSegments, xray:PutTelemetryRecords) to this default "
            "policy for active tracing; those actions have no resource-level permissions. Our own "
            "grants are in the separate <Function>Permissions policy.",
        )

    def _acknowledge_data_wildcards(self, policy: iam.Policy, reads_secrets: bool) -> None:
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::<{self._logical_id_of(self.data_bucket)}.Arn>/*]",
            "Run artefacts are keyed by run id, object and batch, generated at run time; access is "
            "limited to objects of the one data bucket and to GetObject/PutObject.",
        )
        if reads_secrets:
            acknowledge(
                policy,
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:"
                f"<AWS::AccountId>:secret:{SECRETS_PREFIX}*]",
                "Connection secrets are created per tenant and connection by operators, after deploy; "
                f"GetSecretValue is limited to names under '{SECRETS_PREFIX}' (the prefix the "
                "migration spec enforces) in this account and region.",
            )

    def _logical_id_of(self, construct: Construct) -> str:
        child = construct.node.default_child
        assert isinstance(child, cdk.CfnElement)
        return self.resolve(child.logical_id)  # type: ignore[no-any-return]

    # --- Step Functions ---------------------------------------------------------------------
    def state_machine_name(self, definition: StateMachineDef) -> str:
        """The physical name: fixed so that the machine's own ARN is known before it exists."""
        return f"{self.stack_name}-{definition.logical_id}"

    def state_machine_arn(self, definition: StateMachineDef) -> str:
        return self.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=self.state_machine_name(definition),
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )

    def _child_executions_arn(self, definition: StateMachineDef) -> str:
        """Executions started by the machine's Distributed Maps: ``<name>/<map run label>:<id>``."""
        return self.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.state_machine_name(definition)}/*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )

    def _substitutions(self, definition: StateMachineDef, text: str) -> dict[str, str]:
        absent = [folder for folder in definition.functions if folder not in self.functions]
        if absent:
            raise ValueError(
                f"{definition.logical_id} invokes functions/{absent}, which FUNCTIONS does not define "
                "(infra/resources.py)."
            )
        values = asl_variables(
            {folder: self.functions[folder].function_arn for folder in definition.functions},
            self.data_bucket.bucket_name,
        )
        used = asl_placeholders(text)
        missing = sorted(used - values.keys())
        if missing:
            raise ValueError(
                f"{definition.asl_file} uses {missing}, which {definition.logical_id} does not provide; "
                f"its functions are {list(definition.functions)} (infra/resources.py)."
            )
        unused = sorted(values.keys() - used)
        if unused:
            raise ValueError(
                f"{definition.asl_file} never uses {unused}: remove those functions from "
                f"{definition.logical_id}.functions so the machine is not granted invoke on them."
            )
        return {key: values[key] for key in sorted(used)}

    def _state_machine(self, definition: StateMachineDef) -> sfn.StateMachine:
        name = definition.logical_id
        text = definition.path.read_text()
        role = iam.Role(
            self,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description=f"Execution role of {name} ({definition.asl_file})",
        )
        log_group = logs.LogGroup(
            self,
            f"{name}Logs",
            # The vendedlogs prefix keeps Step Functions' log delivery within the resource policy limit.
            log_group_name=f"/aws/vendedlogs/states/{self.state_machine_name(definition)}",
            retention=LOG_RETENTION,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        machine = sfn.StateMachine(
            self,
            name,
            state_machine_name=self.state_machine_name(definition),
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(text),
            definition_substitutions=self._substitutions(definition, text),
            role=role,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        own_arn = self.state_machine_arn(definition)
        statements = [
            iam.PolicyStatement(
                sid="InvokeWorkflowFunctions",
                actions=["lambda:InvokeFunction"],
                resources=[self.functions[folder].function_arn for folder in definition.functions],
            ),
        ]
        if '"ItemReader"' in text:
            statements.append(
                iam.PolicyStatement(
                    sid="ReadMapManifests",
                    actions=["s3:GetObject"],
                    resources=[self.data_bucket.arn_for_objects("*")],
                )
            )
        if '"DISTRIBUTED"' in text:
            statements += [
                iam.PolicyStatement(
                    sid="StartDistributedMapChildren", actions=["states:StartExecution"], resources=[own_arn]
                ),
                iam.PolicyStatement(
                    sid="ManageDistributedMapChildren",
                    actions=["states:DescribeExecution", "states:StopExecution", "states:RedriveExecution"],
                    resources=[self._child_executions_arn(definition)],
                ),
            ]
        policy = iam.Policy(self, f"{name}Permissions", roles=[role], statements=statements)
        machine.node.add_dependency(policy)

        default_policy = role.node.find_child("DefaultPolicy")
        acknowledge(
            default_policy,
            "AwsSolutions-IAM5[Resource::*]",
            "CDK adds only CloudWatch Logs delivery (logs:CreateLogDelivery, ...) and X-Ray actions "
            "here for execution logging and tracing; neither service supports resource-level "
            "permissions for them. Our own grants are in the separate <Machine>Permissions policy.",
        )
        if '"ItemReader"' in text:
            acknowledge(
                policy,
                f"AwsSolutions-IAM5[Resource::<{self._logical_id_of(self.data_bucket)}.Arn>/*]",
                "Distributed Map ItemReader reads manifests whose keys are computed per run "
                "($.extraction.manifest_key); read-only, objects of the one data bucket.",
            )
        if '"DISTRIBUTED"' in text:
            acknowledge(
                policy,
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:"
                f"execution:{self.state_machine_name(definition)}/*]",
                "Child executions of this machine's own Distributed Map runs (<machine>/<label>:<id>) "
                "are named by Step Functions at run time; Describe/Stop/Redrive only, this machine only.",
            )
        return machine

    # --- API --------------------------------------------------------------------------------
    def _api(self, function: lambda_.Function) -> apigw.RestApi:
        self._grant_api_function(function)
        access_logs = logs.LogGroup(
            self, "ApiAccessLogs", retention=LOG_RETENTION, removal_policy=cdk.RemovalPolicy.DESTROY
        )
        create_cloudwatch_role = self._context_flag(APIGW_CLOUDWATCH_ROLE_CONTEXT, default=True)
        api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=f"{self.stack_name}-api",
            description="FlitStack API: start and manage migrations, approvals, Slack actions",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # Access and execution logging need the account's API Gateway CloudWatch role; set the
            # context flag to false where the account already has one (it is one per region).
            cloud_watch_role=create_cloudwatch_role,
            # Retained: other APIs in the account and region may log through the same setting.
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.RETAIN if create_cloudwatch_role else None,
            deploy_options=apigw.StageOptions(
                stage_name=API_STAGE,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                # resourcePath, never path: approval links carry their signed token in the path.
                access_log_format=apigw.AccessLogFormat.custom(
                    '{"requestId":"$context.requestId","requestTime":"$context.requestTime",'
                    '"httpMethod":"$context.httpMethod","resourcePath":"$context.resourcePath",'
                    '"status":"$context.status","responseLength":"$context.responseLength",'
                    '"ip":"$context.identity.sourceIp","caller":"$context.identity.caller",'
                    '"user":"$context.identity.user","integrationLatency":"$context.integrationLatency"}'
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                tracing_enabled=True,
                throttling_rate_limit=API_RATE_LIMIT,
                throttling_burst_limit=API_BURST_LIMIT,
            ),
        )
        validator = api.add_request_validator(
            "RequestValidator", validate_request_body=True, validate_request_parameters=True
        )
        integration = apigw.LambdaIntegration(function, proxy=True)

        for route in MANAGEMENT_ROUTES:
            method = self._resource(api, route).add_method(
                "ANY",
                integration,
                authorization_type=apigw.AuthorizationType.IAM,
                request_validator=validator,
            )
            acknowledge(
                method,
                "AwsSolutions-COG4",
                "Management routes use IAM (SigV4) authorization: the CLI signs with the operator's "
                "AWS credentials; there are no end-user accounts, so no Cognito user pool.",
            )
        for http_method, route in PUBLIC_ROUTES:
            method = self._resource(api, route).add_method(
                http_method,
                integration,
                authorization_type=apigw.AuthorizationType.NONE,
                request_validator=validator,
            )
            reason = (
                "Opened from an approval e-mail link: the API function verifies the link's HMAC "
                "signature and expiry before sending any task token."
                if route.startswith("/approvals")
                else "Called by Slack: the API function verifies the X-Slack-Signature HMAC and the "
                "request timestamp (replay window) before acting."
            )
            acknowledge(method, "AwsSolutions-APIG4", reason)
            acknowledge(method, "AwsSolutions-COG4", reason)

        acknowledge(
            api.deployment_stage,
            "AwsSolutions-APIG3",
            "No WAF web ACL in the base stack: management routes require SigV4 and the public routes "
            "verify signatures in the function; the stage is throttled. Attach an account's "
            "existing web ACL at deploy time where policy requires one.",
        )
        # RestApi adds an unnamed "Endpoint" output; ApiUrl (below) is the one we document.
        api.node.try_remove_child("Endpoint")
        cloudwatch_role = api.node.try_find_child("CloudWatchRole")
        if cloudwatch_role is not None:
            acknowledge(
                cloudwatch_role,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
                "The account-level role API Gateway needs for access and execution logging; the AWS "
                "managed policy is the documented one and is maintained by AWS.",
            )
        return api

    @staticmethod
    def _resource(api: apigw.RestApi, route: str) -> apigw.Resource:
        resource = api.root
        for part in route.strip("/").split("/"):
            resource = resource.get_resource(part) or resource.add_resource(part)
        assert isinstance(resource, apigw.Resource)
        return resource

    def _grant_api_function(self, function: lambda_.Function) -> None:
        machine_arns = [self.state_machine_arn(m) for m in self.machine_defs]
        for definition in self.machine_defs:
            function.add_environment(state_machine_arn_env(definition.logical_id), self.state_machine_arn(definition))
        function.add_environment("SENDER_ADDRESS", self.sender)
        statements = [
            iam.PolicyStatement(sid="StartWorkflows", actions=["states:StartExecution"], resources=machine_arns),
            # GET /migrations/{id} and the rollback guard read the run's executions (named by run id).
            iam.PolicyStatement(
                sid="DescribeWorkflowExecutions",
                actions=["states:DescribeExecution"],
                resources=[self._executions_arn(m) for m in self.machine_defs],
            ),
        ]
        # Approvals (e-mail link, Slack button) answer the migrate machine's task tokens, and
        # those of any other machine that waits for one.
        answering = [m for m in self.machine_defs if m == MIGRATE or ".waitForTaskToken" in m.path.read_text()]
        if answering:
            statements.append(
                iam.PolicyStatement(
                    sid="AnswerApprovals",
                    actions=["states:SendTaskSuccess", "states:SendTaskFailure"],
                    resources=[self.state_machine_arn(m) for m in answering],
                )
            )
        statements.append(
            iam.PolicyStatement(
                sid="SendApprovalMail",
                actions=["ses:SendEmail", "ses:SendRawEmail"],
                resources=self._ses_identity_arns(self.sender),
            )
        )
        policy = self.function_policies[API_FOLDER]
        policy.add_statements(*statements)
        for definition in self.machine_defs:
            acknowledge(
                policy,
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:"
                f"execution:{self.state_machine_name(definition)}:*]",
                "Executions are named by run id (migrate) or run id and time (rollback) when the API "
                "starts them; DescribeExecution only, on this machine's executions only.",
            )

    def _grant_starts(self, definition: FunctionDef) -> None:
        """A step that starts another workflow (a failed reconciliation starting the rollback) gets its ARN
        and StartExecution on that machine only."""
        machines = [m for m in self.machine_defs if m.logical_id in definition.starts]
        for machine in machines:
            self.functions[definition.folder].add_environment(state_machine_arn_env(machine.logical_id),
                                                              self.state_machine_arn(machine))
        if machines:
            self.function_policies[definition.folder].add_statements(iam.PolicyStatement(
                sid="StartWorkflows", actions=["states:StartExecution"],
                resources=[self.state_machine_arn(m) for m in machines]))

    def _grant_approval_function(self, function: lambda_.Function) -> None:
        """The sign-off Task mails approvers (SES) and links them to the API's public routes."""
        function.add_environment("SENDER_ADDRESS", self.sender)
        if self.api is not None:
            function.add_environment("PUBLIC_API_URL", self.api.url.rstrip("/"))
        self.function_policies[APPROVAL_FOLDER].add_statements(
            iam.PolicyStatement(sid="SendApprovalMail", actions=["ses:SendEmail", "ses:SendRawEmail"],
                                resources=self._ses_identity_arns(self.sender)))

    def _executions_arn(self, definition: StateMachineDef) -> str:
        """Every execution of the machine itself: ``execution:<name>:<execution name>``."""
        return self.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.state_machine_name(definition)}:*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )

    def _ses_identity_arns(self, sender: str) -> list[str]:
        """The SES identities that may authorise ``sender``: the address and, for one, its domain."""
        identities = [sender]
        if "@" in sender:
            identities.append(sender.split("@", 1)[1])
        return [self.format_arn(service="ses", resource="identity", resource_name=identity) for identity in identities]

    # --- Outputs ----------------------------------------------------------------------------
    def _outputs(self) -> None:
        if self.api is not None:
            cdk.CfnOutput(self, "ApiUrl", value=self.api.url, description="Base URL of the FlitStack API")
        cdk.CfnOutput(self, "DataBucketName", value=self.data_bucket.bucket_name, description="Run artefacts bucket")
        for logical_id, machine in self.state_machines.items():
            cdk.CfnOutput(self, f"{logical_id}Arn", value=machine.state_machine_arn)
