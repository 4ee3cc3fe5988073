"""What the CI/CD roles may do (the second template, templates/deploy_roles.py): three tables of
grants, filled in per stage by one pure builder.

- PLAN: `make plan STAGE=test` from a pull request: preflight's reads, the stack's reads, change
  sets created, read and deleted (never executed), the plan's own template uploads. It may
  delete a stack only while that is the empty shell its own CREATE change set made: the shell
  carries PLAN_SHELL_TAG (tools/deploy/changes.py tags it), a stack `make deploy` made never does.
- DEPLOY: `make deploy STAGE=<stage>`: the same reads, the artifact bucket (created locked-down
  when absent, as tools/deploy/cli.py does), the artifacts, the deploy record, change sets run
  on the stage's own stack, its stack policy, and iam:PassRole of that stage's CloudFormation
  service role, to CloudFormation only. Nothing else: no resource of the app.
- SERVICE: the CloudFormation service role (`make deploy ROLE_ARN=...`): what the handlers of
  the app's resource types need to create, read, update and delete them (their CloudFormation
  schemas' `handlers` lists), each on the stack's own names wherever the service allows it,
  less the features the app does not use (NOT_GRANTED, with the reason).

A pattern may name {stack} (the stage's stack name), {stage}, {bucket} (the artifact bucket)
and {service_role}; ARNs are Fn::Sub text of this account, region and partition. `*` stands
alone as a Resource only where the action has no resource-level permission (`why` says so);
no action is a wildcard."""

from dataclasses import dataclass

from awacs.aws import (
    Action,
    Allow,
    ArnEquals,
    ArnLike,
    Condition,
    ConditionElement,
    PolicyDocument,
    Statement,
    StringEquals,
)
from troposphere import Sub

from .deployments import CODEDEPLOY_POLICY
from .security import VPC_ACCESS_POLICY

# The S3 keys of the artifact bucket each role touches (build.py's Artifact.s3_key, the
# `--s3-prefix` tools/deploy/cli.py gives `aws cloudformation deploy`, changes.template_url's
# key, drift.record_key): tests/templates/test_deploy_roles.py checks they match.
ARTIFACT_KEYS = "artifacts/*"
TEMPLATE_KEYS = "templates/*"
PLAN_TEMPLATE_KEYS = "templates/*.template.json"  # the plan's own, never awscli's `<md5>.template`
RECORD_KEY = "deployed/{stack}.json"
# The tag the plan's CREATE change set gives the empty stack it makes (tools/deploy/changes.py).
PLAN_SHELL_TAG = ("items-api:plan", "empty-stack")
# The stages whose stack gets termination protection (tools/deploy/cli.py TERMINATION_PROTECTED).
TERMINATION_PROTECTED = ("prod",)


def arn(service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
    """An ARN pattern (Fn::Sub text) of this partition, and this region and account unless the
    service's ARNs leave them out."""
    where = "${AWS::Region}" if region else ""
    owner = "${AWS::AccountId}" if account else ""
    return f"arn:${{AWS::Partition}}:{service}:{where}:{owner}:{resource}"


@dataclass(frozen=True)
class Grant:
    """One statement: exactly `actions` on `resources` (patterns), under an optional condition
    (operator, key, value patterns). `why`: the reason a Resource is `*`."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: tuple[type[ConditionElement], str, tuple[str, ...]] | None = None
    why: str = ""


def of(service: str, names: str) -> tuple[str, ...]:
    """`service:Name` for each of the space-separated names."""
    return tuple(f"{service}:{name}" for name in names.split())


BUCKET = "arn:${AWS::Partition}:s3:::{bucket}"
STACK = arn("cloudformation", "stack/{stack}/*")
FUNCTIONS = (arn("lambda", "function:{stack}-*"), arn("lambda", "function:{stack}-*:*"))
# The app's roles: the functions' under their path (/<stack>/), the others named by
# CloudFormation <stack>-<logical ID>-<suffix>. The CI roles' names never match these.
ROLES = (arn("iam", "role/{stack}-*", region=False), arn("iam", "role/{stack}/*", region=False))
NO_RESOURCE = "the action has no resource-level permission: AWS accepts only `*`"

# Preflight's read-only checks (tools/deploy/preflight.py), for plan and deploy alike.
PREFLIGHT = (
    Grant(
        "PreflightApiGatewayAccount",
        of("apigateway", "GET"),
        (arn("apigateway", "/account", account=False),),
    ),
    Grant(
        "PreflightCloudWatchRole",
        of("iam", "GetRole"),
        (arn("iam", "role/*", region=False),),
        why="the account's API Gateway CloudWatch role may have any name",
    ),
    Grant("PreflightFunctions", of("lambda", "GetFunction GetFunctionConcurrency"), FUNCTIONS),
    Grant(
        "PreflightAlarmNames", of("cloudwatch", "DescribeAlarms"), (arn("cloudwatch", "alarm:*"),)
    ),
    Grant(
        "PreflightWithoutResources",
        (
            *of("cloudwatch", "ListDashboards"),
            *of("kms", "ListAliases"),
            *of("lambda", "GetAccountSettings"),
        ),
        ("*",),
        why=NO_RESOURCE,
    ),
)

PLAN = (
    *PREFLIGHT,
    Grant(
        "PlanStack",
        of(
            "cloudformation",
            "CreateChangeSet DeleteChangeSet DescribeChangeSet DescribeStacks ListStackResources",
        ),
        (STACK,),
    ),
    Grant(
        "PlanShellOnly",
        of("cloudformation", "DeleteStack"),
        (STACK,),
        (StringEquals, f"aws:ResourceTag/{PLAN_SHELL_TAG[0]}", (PLAN_SHELL_TAG[1],)),
    ),
    Grant("ArtifactBucketExists", of("s3", "ListBucket"), (BUCKET,)),
    Grant("PlanTemplates", of("s3", "GetObject PutObject"), (f"{BUCKET}/{PLAN_TEMPLATE_KEYS}",)),
    Grant("DeployRecordRead", of("s3", "GetObject"), (f"{BUCKET}/{RECORD_KEY}",)),
)

DEPLOY_STACK = of(
    "cloudformation",
    "CreateChangeSet DeleteChangeSet DeleteStack DescribeChangeSet DescribeStackEvents "
    "DescribeStacks ExecuteChangeSet GetTemplate ListStackResources SetStackPolicy",
)


def deploy(stage: str) -> tuple[Grant, ...]:
    """The deploy role of `stage`: its stack (and its termination protection where that is
    on), the artifact bucket and the service role, to CloudFormation only."""
    protection = of("cloudformation", "UpdateTerminationProtection")
    stack = DEPLOY_STACK + (protection if stage in TERMINATION_PROTECTED else ())
    return (
        *PREFLIGHT,
        Grant("DeployStack", tuple(sorted(stack)), (STACK,)),
        Grant(
            "PassServiceRole",
            of("iam", "PassRole"),
            (arn("iam", "role/{service_role}", region=False),),
            (StringEquals, "iam:PassedToService", ("cloudformation.amazonaws.com",)),
        ),
        Grant(
            "ArtifactBucket",
            of(
                "s3",
                "CreateBucket ListBucket PutBucketPublicAccessBlock PutBucketVersioning "
                "PutEncryptionConfiguration",
            ),
            (BUCKET,),
        ),
        Grant(
            "ArtifactObjects",
            of("s3", "GetObject PutObject"),
            (f"{BUCKET}/{ARTIFACT_KEYS}", f"{BUCKET}/{TEMPLATE_KEYS}", f"{BUCKET}/{RECORD_KEY}"),
        ),
    )


LOG_GROUPS = (
    arn("logs", "log-group:{stack}-*"),
    # API Gateway names the execution log group; the API's ID is known only once it exists.
    arn("logs", "log-group:API-Gateway-Execution-Logs_*/{stage}"),
    arn("logs", "log-group:API-Gateway-Execution-Logs_*/{stage}:*"),
)
API = tuple(
    arn("apigateway", path, account=False)
    for kind in ("/restapis", "/apikeys", "/usageplans", "/tags")
    for path in (kind, f"{kind}/*")
)
EVENT_SOURCE_MAPPINGS = (arn("lambda", "event-source-mapping:*"),)
KEYS = (arn("kms", "key/*"),)
# The managed policies the app's roles attach (security.py, deployments.py): no other.
MANAGED_POLICIES = (VPC_ACCESS_POLICY, CODEDEPLOY_POLICY)
# The services the app hands its roles to: the functions, CodeDeploy, API Gateway's logging.
PASSED_TO = ("lambda.amazonaws.com", "codedeploy.amazonaws.com", "apigateway.amazonaws.com")
LAMBDA = (
    "AddPermission CreateAlias CreateFunction DeleteAlias DeleteFunction DeleteFunctionConcurrency "
    "DeleteFunctionEventInvokeConfig GetAlias GetFunction GetFunctionCodeSigningConfig "
    "GetFunctionConfiguration GetFunctionEventInvokeConfig GetFunctionRecursionConfig "
    "GetFunctionScalingConfig GetPolicy GetProvisionedConcurrencyConfig "
    "GetRuntimeManagementConfig ListVersionsByFunction PublishVersion PutFunctionConcurrency "
    "PutFunctionEventInvokeConfig RemovePermission TagResource UntagResource UpdateAlias "
    "UpdateFunctionCode UpdateFunctionConfiguration UpdateFunctionEventInvokeConfig "
    # CloudFormation invokes the custom resource's function (Custom::ApiDeployment) as this role.
    "InvokeFunction"
)
BUCKET_ACTIONS = (
    "CreateBucket DeleteBucket DeleteBucketPolicy GetAccelerateConfiguration "
    "GetAnalyticsConfiguration GetBucketAbac GetBucketAcl GetBucketCORS GetBucketLogging "
    "GetBucketMetadataTableConfiguration GetBucketNotification GetBucketObjectLockConfiguration "
    "GetBucketOwnershipControls GetBucketPolicy GetBucketPublicAccessBlock GetBucketTagging "
    "GetBucketVersioning GetBucketWebsite GetEncryptionConfiguration "
    "GetIntelligentTieringConfiguration GetInventoryConfiguration GetLifecycleConfiguration "
    "GetMetricsConfiguration GetReplicationConfiguration ListBucket ListTagsForResource "
    "PutBucketOwnershipControls PutBucketPolicy PutBucketPublicAccessBlock PutBucketTagging "
    "PutBucketVersioning PutEncryptionConfiguration PutLifecycleConfiguration TagResource "
    "UntagResource"
)

# By policy: the service role's permissions outgrow what a role's inline policies may hold
# (10,240 characters), so each group is a managed policy of its own (6,144 at most).
SERVICE: dict[str, tuple[Grant, ...]] = {
    "identity-and-code": (
        Grant(
            "Roles",
            of(
                "iam",
                "CreateRole DeleteRole DeleteRolePolicy GetRole GetRolePolicy "
                "ListAttachedRolePolicies ListRolePolicies PutRolePolicy TagRole UntagRole "
                "UpdateAssumeRolePolicy UpdateRole UpdateRoleDescription",
            ),
            ROLES,
        ),
        Grant(
            "RolesManagedPolicies",
            of("iam", "AttachRolePolicy DetachRolePolicy"),
            ROLES,
            (ArnEquals, "iam:PolicyARN", MANAGED_POLICIES),
        ),
        Grant(
            "PassRoles",
            of("iam", "PassRole"),
            ROLES,
            (StringEquals, "iam:PassedToService", PASSED_TO),
        ),
        Grant("Functions", of("lambda", LAMBDA), FUNCTIONS),
        Grant(
            "Layers",
            of("lambda", "DeleteLayerVersion GetLayerVersion PublishLayerVersion"),
            (arn("lambda", "layer:{stack}-*"), arn("lambda", "layer:{stack}-*:*")),
        ),
        Grant(
            "StreamMappingCreate",
            of("lambda", "CreateEventSourceMapping"),
            ("*",),
            (ArnLike, "lambda:FunctionArn", FUNCTIONS),
            why="CreateEventSourceMapping has no resource: the condition names the functions",
        ),
        Grant(
            "StreamMappingChanges",
            of("lambda", "DeleteEventSourceMapping UpdateEventSourceMapping"),
            EVENT_SOURCE_MAPPINGS,
            (ArnLike, "lambda:FunctionArn", FUNCTIONS),
        ),
        Grant(
            "StreamMappingReads",
            of("lambda", "GetEventSourceMapping ListTags TagResource UntagResource"),
            EVENT_SOURCE_MAPPINGS,
        ),
    ),
    "data-and-keys": (
        # KMS makes a key's ID: the keys are this account's and region's, not the stack's.
        Grant(
            "Keys",
            of(
                "kms",
                "CreateGrant Decrypt DescribeKey DisableKey DisableKeyRotation EnableKey "
                "EnableKeyRotation Encrypt GenerateDataKey GetKeyPolicy GetKeyRotationStatus "
                "ListResourceTags PutKeyPolicy RevokeGrant ScheduleKeyDeletion TagResource "
                "UntagResource UpdateKeyDescription",
            ),
            KEYS,
        ),
        Grant(
            "KeyAliases",
            of("kms", "CreateAlias DeleteAlias UpdateAlias"),
            (arn("kms", "alias/{stack}/*"), *KEYS),
        ),
        Grant("KeysWithoutResources", of("kms", "CreateKey ListAliases"), ("*",), why=NO_RESOURCE),
        Grant(
            "Tables",
            of(
                "dynamodb",
                "CreateTable DeleteTable DescribeContinuousBackups "
                "DescribeContributorInsights DescribeKinesisStreamingDestination DescribeTable "
                "DescribeTimeToLive GetResourcePolicy ListTagsOfResource TagResource "
                "UntagResource UpdateContinuousBackups UpdateContributorInsights UpdateTable "
                "UpdateTimeToLive",
            ),
            (arn("dynamodb", "table/{stack}-*"),),
        ),
        Grant(
            "LogGroups",
            of(
                "logs",
                "AssociateKmsKey CreateLogGroup DeleteDataProtectionPolicy DeleteLogGroup "
                "DeleteRetentionPolicy DescribeIndexPolicies DescribeResourcePolicies "
                "DisassociateKmsKey GetDataProtectionPolicy ListTagsForResource "
                "PutRetentionPolicy TagResource UntagResource",
            ),
            LOG_GROUPS,
        ),
        Grant("LogGroupReads", of("logs", "DescribeLogGroups"), (arn("logs", "log-group:*"),)),
        Grant(
            "Queue",
            of(
                "sqs",
                "CreateQueue DeleteQueue GetQueueAttributes GetQueueUrl ListQueueTags "
                "SetQueueAttributes TagQueue UntagQueue",
            ),
            (arn("sqs", "{stack}-*"),),
        ),
        Grant(
            "Topic",
            of(
                "sns",
                "CreateTopic DeleteTopic GetDataProtectionPolicy GetSubscriptionAttributes "
                "GetTopicAttributes ListSubscriptionsByTopic ListTagsForResource "
                "SetSubscriptionAttributes SetTopicAttributes Subscribe TagResource Unsubscribe "
                "UntagResource",
            ),
            (arn("sns", "{stack}-*"),),
        ),
        # CloudFormation names the bucket <stack>-<logical id>-<suffix>, lowercased.
        Grant(
            "Bucket",
            of("s3", BUCKET_ACTIONS),
            (arn("s3", "{stack}-*", region=False, account=False),),
        ),
    ),
    "api-and-operations": (
        # API Gateway makes an API's ID: the region's REST APIs, keys and usage plans.
        Grant("Api", of("apigateway", "DELETE GET PATCH POST PUT"), API),
        Grant(
            "ApiGatewayAccount",
            of("apigateway", "GET PATCH"),
            (arn("apigateway", "/account", account=False),),
        ),
        Grant(
            "Alarms",
            of(
                "cloudwatch",
                "DeleteAlarms ListTagsForResource PutMetricAlarm TagResource UntagResource",
            ),
            (arn("cloudwatch", "alarm:{stage}-{stack}-*"),),
        ),
        Grant("AlarmReads", of("cloudwatch", "DescribeAlarms"), (arn("cloudwatch", "alarm:*"),)),
        Grant(
            "Dashboard",
            of(
                "cloudwatch",
                "DeleteDashboards GetDashboard ListTagsForResource PutDashboard "
                "TagResource UntagResource",
            ),
            (arn("cloudwatch", "dashboard/{stack}", region=False),),
        ),
        Grant(
            "Deployments",
            of(
                "codedeploy",
                "CreateApplication CreateDeployment CreateDeploymentGroup "
                "DeleteApplication DeleteDeploymentGroup GetApplication GetApplicationRevision "
                "GetDeployment GetDeploymentConfig GetDeploymentGroup ListDeployments "
                "ListTagsForResource RegisterApplicationRevision StopDeployment TagResource "
                "UntagResource UpdateDeploymentGroup",
            ),
            (
                arn("codedeploy", "application:{stack}-*"),
                arn("codedeploy", "deploymentgroup:{stack}-*"),
                arn("codedeploy", "deploymentconfig:CodeDeployDefault.Lambda*"),
            ),
        ),
        # Lambda reads the code (and CloudFormation the template) as the caller: this role.
        Grant(
            "Artifacts",
            of("s3", "GetObject GetObjectVersion"),
            (f"{BUCKET}/{ARTIFACT_KEYS}", f"{BUCKET}/{TEMPLATE_KEYS}"),
        ),
        Grant(
            "NetworkReads",
            of(
                "ec2",
                "DescribeNetworkInterfaces DescribeSecurityGroups DescribeSubnets DescribeVpcs",
            ),
            ("*",),
            why="EC2's Describe actions have no resource-level permission (with VpcSubnetIds)",
        ),
    ),
}

# What the handlers of the app's resource types list but the service role does not get: the
# features the app never sets (a handler calls these only when its property is set).
NOT_GRANTED: dict[str, str] = {
    "Lambda features the functions do not use (code signing, provisioned concurrency, recursion "
    "and runtime-management settings, capacity providers, file systems)": (
        "lambda:AssociateRuntimeAlias lambda:DeleteFunctionCodeSigningConfig "
        "lambda:DeleteProvisionedConcurrencyConfig lambda:GetCodeSigningConfig "
        "lambda:PassCapacityProvider lambda:PutFunctionCodeSigningConfig "
        "lambda:PutFunctionRecursionConfig lambda:PutFunctionScalingConfig "
        "lambda:PutProvisionedConcurrencyConfig lambda:PutRuntimeManagementConfig "
        "elasticfilesystem:DescribeMountTargets s3files:ListMountTargets"
    ),
    "Table features not used (imports, replicas, Kinesis streaming, resource policies), and "
    "items: the deploy reads and writes no data": (
        "dynamodb:AssociateTableReplica dynamodb:BatchWriteItem dynamodb:CreateTableReplica "
        "dynamodb:DeleteItem dynamodb:DeleteResourcePolicy dynamodb:DescribeImport "
        "dynamodb:DisableKinesisStreamingDestination dynamodb:EnableKinesisStreamingDestination "
        "dynamodb:GetItem dynamodb:ImportTable dynamodb:PutItem dynamodb:PutResourcePolicy "
        "dynamodb:Query dynamodb:Scan dynamodb:UpdateItem "
        "dynamodb:UpdateKinesisStreamingDestination iam:CreateServiceLinkedRole "
        "kinesis:DescribeStream kinesis:PutRecords logs:CreateLogStream logs:DescribeLogStreams "
        "logs:PutLogEvents s3:GetObjectMetadata"
    ),
    "Bucket settings the app never sets (ACLs are off; no CORS, logging, notifications, object "
    "lock, replication, website, analytics, inventory, metrics, tiering, metadata or S3 "
    "tables), and no object is deleted": (
        "firehose:TagDeliveryStream s3:CreateBucketMetadataTableConfiguration "
        "s3:DeleteBucketAnalyticsConfiguration s3:DeleteBucketCors s3:DeleteBucketEncryption "
        "s3:DeleteBucketLifecycle s3:DeleteBucketMetadataTableConfiguration "
        "s3:DeleteBucketMetricsConfiguration s3:DeleteBucketReplication s3:DeleteBucketWebsite "
        "s3:DeleteObject s3:PutAccelerateConfiguration s3:PutAnalyticsConfiguration "
        "s3:PutBucketAbac s3:PutBucketAcl s3:PutBucketCORS s3:PutBucketLogging "
        "s3:PutBucketNotification s3:PutBucketObjectLockConfiguration s3:PutBucketReplication "
        "s3:PutBucketWebsite s3:PutIntelligentTieringConfiguration s3:PutInventoryConfiguration "
        "s3:PutMetricsConfiguration s3:PutObjectAcl s3:PutObjectLockConfiguration "
        "s3:PutReplicationConfiguration s3:REST.PUT.OBJECT "
        "s3:UpdateBucketMetadataAnnotationTableConfiguration "
        "s3:UpdateBucketMetadataInventoryTableConfiguration "
        "s3:UpdateBucketMetadataJournalTableConfiguration s3tables:CreateNamespace "
        "s3tables:CreateTable s3tables:CreateTableBucket s3tables:GetTable "
        "s3tables:GetTableMetadataLocation s3tables:PutTableBucketPolicy "
        "s3tables:PutTableEncryption s3tables:PutTablePolicy s3tables:UpdateTableMetadataLocation"
    ),
    "Log group settings the app never sets (deliveries, data protection, index and resource "
    "policies, bearer tokens, deletion protection)": (
        "logs:CreateLogDelivery logs:DeleteIndexPolicy logs:DeleteResourcePolicy "
        "logs:PutBearerTokenAuthentication logs:PutDataProtectionPolicy logs:PutIndexPolicy "
        "logs:PutLogGroupDeletionProtection logs:PutResourcePolicy"
    ),
    "No permissions boundary, and policies go on roles only (no user or group)": (
        "iam:DeleteGroupPolicy iam:DeleteRolePermissionsBoundary iam:DeleteUserPolicy "
        "iam:GetGroupPolicy iam:GetUserPolicy iam:PutGroupPolicy iam:PutRolePermissionsBoundary "
        "iam:PutUserPolicy"
    ),
    "No resource policy on the API, no data protection on the topic, no on-premises instances": (
        "apigateway:UpdateRestApiPolicy sns:PutDataProtectionPolicy "
        "codedeploy:RegisterOnPremisesInstance"
    ),
}


def _text(pattern: str, names: dict[str, str]) -> str:
    """The pattern with its {stack}, {stage}, {bucket} and {service_role} filled in (plain
    replace: the Fn::Sub variables' own braces stay)."""
    for key, value in names.items():
        pattern = pattern.replace(f"{{{key}}}", value)
    return pattern


def _value(pattern: str, names: dict[str, str]) -> str | Sub:
    """A resource or condition value: an Fn::Sub where it names a variable."""
    text = _text(pattern, names)
    return Sub(text) if "${" in text else text


def statement(grant: Grant, names: dict[str, str]) -> Statement:
    """The grant as an awacs statement, its patterns filled with `names` (Fn::Sub text)."""
    extra = {}
    if grant.condition:
        operator, key, values = grant.condition
        extra["Condition"] = Condition(operator({key: [_value(v, names) for v in values]}))
    return Statement(
        Sid=grant.sid,
        Effect=Allow,
        Action=[Action(*a.split(":", 1)) for a in grant.actions],
        Resource=[_value(r, names) for r in grant.resources],
        **extra,
    )


def policy(grants: tuple[Grant, ...], names: dict[str, str]) -> PolicyDocument:
    """One policy of these grants, for the stage `names` describes."""
    return PolicyDocument(Version="2012-10-17", Statement=[statement(g, names) for g in grants])
