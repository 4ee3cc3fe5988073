"""The shared layer and one Lambda function per catalog row."""

from dataclasses import dataclass

from troposphere import Equals, GetAtt, If, Not, NoValue, Ref, Sub, Template, awslambda, iam

from .catalog import FUNCTIONS, LAYER
from .data import Data
from .log_groups import LogGroups
from .naming import logical_id, physical_name
from .parameters import IN_VPC, PYTHON_RUNTIMES, Params
from .security import Security
from .suppressions import suppress_everywhere

HANDLER = "app.lambda_handler"  # every function folder has app.py at its zip root
RESERVED = "ConcurrencyReserved"  # condition: ReservedConcurrency > 0


@dataclass(frozen=True)
class Functions:
    layer: awslambda.LayerVersion
    by_name: dict[str, awslambda.Function]

    def arn(self, name: str) -> GetAtt:
        return self.by_name[name].get_att("Arn")


def _code(params: Params, artifact: str) -> dict:
    return {"S3Bucket": Ref(params.artifact_bucket), "S3Key": Ref(params.code_keys[artifact])}


def add(
    t: Template,
    params: Params,
    data: Data,
    security: Security,
    policies: dict[str, iam.PolicyType],
    log_groups: LogGroups,
) -> Functions:
    """Each function waits for its policy, so it never runs without its permissions (and Lambda
    checks the dead letter queue permission when it creates the function)."""
    t.add_condition(RESERVED, Not(Equals(Ref(params.reserved_concurrency), 0)))
    suppress_everywhere(
        t,
        "WS1004",
        "cfn-lint-serverless finds a function's log group only by a LogGroupName naming the "
        "function, but ours are named by CloudFormation and wired through LoggingConfig.LogGroup "
        "(a fixed name would block the next stack after a destroy); tests/test_template.py checks "
        "that every function logs to a group of this stack with a retention.",
    )
    layer = t.add_resource(
        awslambda.LayerVersion(
            logical_id("shared", "layer"),
            LayerName=physical_name("shared"),
            Description="items_common and the functions' pinned third-party libraries.",
            Content=awslambda.Content(**_code(params, LAYER)),
            CompatibleRuntimes=list(PYTHON_RUNTIMES),
            CompatibleArchitectures=["arm64", "x86_64"],  # pure Python: the build enforces it
        )
    )
    by_name = {}
    for f in FUNCTIONS:
        fn = t.add_resource(
            awslambda.Function(
                logical_id(f.name, "function"),
                DependsOn=[policies[f.name].title],
                FunctionName=physical_name(f.name),
                Description=f.description,
                Handler=HANDLER,
                Runtime=Ref(params.runtime),
                Architectures=[Ref(params.architecture)],
                MemorySize=Ref(params.memory_size),
                Timeout=Ref(params.timeout),
                Role=security.roles[f.name].get_att("Arn"),
                KmsKeyArn=security.data_key.get_att("Arn"),
                DeadLetterConfig=awslambda.DeadLetterConfig(
                    TargetArn=data.failure_queue.get_att("Arn")
                ),
                ReservedConcurrentExecutions=If(
                    RESERVED, Ref(params.reserved_concurrency), NoValue
                ),
                VpcConfig=If(
                    IN_VPC,
                    awslambda.VPCConfig(
                        SubnetIds=Ref(params.vpc_subnet_ids),
                        SecurityGroupIds=Ref(params.vpc_security_group_ids),
                    ),
                    NoValue,
                ),
                Code=awslambda.Code(**_code(params, f.name)),
                Layers=[Ref(layer)],
                TracingConfig=awslambda.TracingConfig(Mode="Active"),
                # Applies to the versions published from now on: the Version's Description
                # records the value, so an edit publishes a new one (deployments.py).
                SnapStart=awslambda.SnapStart(ApplyOn=Ref(params.snap_start)),
                # The stack's own group: Lambda would otherwise create /aws/lambda/<name>.
                LoggingConfig=awslambda.LoggingConfig(LogGroup=Ref(log_groups.functions[f.name])),
                Environment=awslambda.Environment(
                    Variables={
                        "TABLE_NAME": Ref(data.table),
                        "PARTITION_KEY": Ref(params.partition_key_name),
                        "SORT_KEY": Ref(params.sort_key_name),
                        "BUCKET_NAME": Ref(data.bucket),
                        "IDEMPOTENCY_TABLE": Ref(data.idempotency_table),
                        "ROUTE_PREFIX": Ref(params.route_prefix),
                        "CORS_ALLOW_ORIGIN": Ref(params.cors_allow_origin),
                        "CORS_ALLOW_CREDENTIALS": Ref(params.cors_allow_credentials),
                        "STAGE": Ref(params.stage),
                        "LOG_LEVEL": Ref(params.log_level),
                        "POWERTOOLS_SERVICE_NAME": physical_name(f.name),
                        "POWERTOOLS_METRICS_NAMESPACE": Sub("${Project}-${Stage}"),
                    }
                ),
            )
        )
        by_name[f.name] = fn
        # Asynchronous-invocation settings go on the `live` alias (templates/deployments.py).
    return Functions(layer=layer, by_name=by_name)
