"""What the CloudFormation service role may do (`make deploy ROLE_ARN=...`): what the handlers
of the app's resource types need to create, read, update and delete them (their CloudFormation
schemas' `handlers` lists), each on the stack's own names wherever the service allows it, less
the features the app does not use (NOT_GRANTED, with the reason). The grant type, the ARN
patterns and the policy builder: templates/deploy_permissions.py."""

from awacs.aws import ArnEquals, ArnLike, StringEquals

from .deploy_permissions import (
    ARTIFACT_KEYS,
    BUCKET,
    FUNCTIONS,
    NO_RESOURCE,
    ROLES,
    TEMPLATE_KEYS,
    Grant,
    arn,
    of,
)
from .deployments import CODEDEPLOY_POLICY
from .security import VPC_ACCESS_POLICY

LOG_GROUPS = (
    arn("logs", "log-group:{stack}-*"),
    # API Gateway names the execution log group; the API's ID is known only once it exists.
    arn("logs", "log-group:API-Gateway-Execution-Logs_*/{stage}"),
    arn("logs", "log-group:API-Gateway-Execution-Logs_*/{stage}:*"),
)
API = tuple(
    arn("apigateway", path, account=False)
    for kind in ("/restapis", "/apikeys", "/usageplans", "/tags", "/domainnames")
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
    # WAF (WafEnabled) and the custom domain's Route 53 record (templates/waf.py, domain.py).
    "firewall-and-domain": (
        # WAF makes a web ACL's ID; CloudFormation its name: the region's web ACLs, and AWS's
        # managed rule groups they reference.
        Grant(
            "WebAcl",
            of(
                "wafv2",
                "AssociateWebACL CreateWebACL DeleteLoggingConfiguration DeleteWebACL "
                "DisassociateWebACL GetLoggingConfiguration GetWebACL GetWebACLForResource "
                "ListTagsForResource PutLoggingConfiguration TagResource UntagResource "
                "UpdateWebACL",
            ),
            (arn("wafv2", "regional/webacl/*/*"), arn("wafv2", "regional/managedruleset/*/*")),
        ),
        Grant("StageFirewall", of("apigateway", "SetWebACL"), API),
        # WAF writes to CloudWatch Logs through a log delivery and the account's log resource
        # policy, which it keeps itself.
        Grant(
            "WafLogDelivery",
            of("logs", "CreateLogDelivery DeleteLogDelivery PutResourcePolicy"),
            ("*",),
            why=NO_RESOURCE,
        ),
        Grant(
            "DomainRecord",
            of("route53", "ChangeResourceRecordSets GetHostedZone ListResourceRecordSets"),
            (arn("route53", "hostedzone/*", region=False, account=False),),
        ),
        Grant(
            "DomainRecordChanges",
            of("route53", "GetChange"),
            (arn("route53", "change/*", region=False, account=False),),
        ),
        Grant("HostedZones", of("route53", "ListHostedZones"), ("*",), why=NO_RESOURCE),
    ),
}

# What the handlers of the app's resource types list but the service role does not get: the
# features the app never sets (a handler calls these only when its property is set).
NOT_GRANTED: dict[str, str] = {
    "WAF: associations with other services' resources (only an API Gateway stage is "
    "associated), rule-group sharing policies, other log destinations (Firehose, S3), "
    "organization-wide logging and paid managed rule groups": (
        "amplify:AssociateWebACL amplify:DisassociateWebACL amplify:GetWebACLForResource "
        "apprunner:AssociateWebAcl apprunner:DescribeWebAclForService "
        "apprunner:DisassociateWebAcl appsync:AssociateWebACL appsync:DisassociateWebACL "
        "appsync:GetWebACLForResource appsync:SetWebACL "
        "bedrock-agentcore:GatewayAssociateWebACL bedrock-agentcore:GatewayDisassociateWebACL "
        "bedrock-agentcore:GatewayGetWebACLForResource cognito-idp:AssociateWebACL "
        "cognito-idp:DisassociateWebACL cognito-idp:GetWebACLForResource "
        "ec2:AssociateVerifiedAccessInstanceWebAcl "
        "ec2:DescribeVerifiedAccessInstanceWebAclAssociations "
        "ec2:DisassociateVerifiedAccessInstanceWebAcl ec2:GetVerifiedAccessInstanceWebAcl "
        "elasticloadbalancing:CreateWebACLAssociation "
        "elasticloadbalancing:DeleteWebACLAssociation "
        "elasticloadbalancing:GetLoadBalancerWebACL elasticloadbalancing:SetWebACL "
        "wafv2:GetPermissionPolicy wafv2:PutPermissionPolicy firehose:ListDeliveryStreams "
        "iam:DescribeOrganization payments:GetConnectedAccount"
    ),
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
    "Log group settings the app never sets (data protection, index policies, bearer tokens, "
    "deletion protection; resource policies only through WAF's log delivery)": (
        "logs:DeleteIndexPolicy logs:DeleteResourcePolicy logs:PutBearerTokenAuthentication "
        "logs:PutDataProtectionPolicy logs:PutIndexPolicy logs:PutLogGroupDeletionProtection"
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
