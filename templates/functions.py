"""The shared layer and one Lambda function per catalog row, and where their code lies: one
S3 key parameter per artifact, in the artifact bucket."""

from dataclasses import dataclass

from troposphere import Equals, GetAtt, If, Not, NoValue, Ref, Sub, Template, awslambda, iam
from troposphere.validators.awslambda import MAXIMUM_MEMORY, MINIMUM_MEMORY

from .catalog import ARTIFACTS, FUNCTIONS, LAYER, ROUTE_PREFIX
from .cors import CORS_ALLOW_CREDENTIALS, CORS_ALLOW_ORIGIN
from .data import PARTITION_KEY_NAME, SORT_KEY_NAME, Data
from .log_groups import LOG_LEVEL, LogGroups, logging_config
from .naming import logical_id, physical_name
from .network import IN_VPC, VPC_SECURITY_GROUP_IDS, VPC_SUBNET_IDS
from .parameters import FROM_BUILD, FROM_DEPLOY, Param, choice, number
from .security import Security
from .stage import STAGE
from .suppressions import suppress_everywhere

HANDLER = "app.lambda_handler"  # every function folder has app.py at its zip root
RESERVED = "ConcurrencyReserved"  # condition: ReservedConcurrency > 0
# The runtimes build.py compiles bytecode for, each with its own CPython (pyenv or uv): a runtime
# added here makes the build need that interpreter.
PYTHON_RUNTIMES = ("python3.12", "python3.13")
# Where the build puts each artifact (build.py's S3_PREFIX): `artifacts/<name>-<sha256>.zip`,
# under `<project>/dist/` when taskcat uploads the project (tools/deploy/taskcat.py).
ARTIFACT_PREFIX = "artifacts"


def code_key_parameter(artifact: str) -> str:
    """The name of the parameter that holds one artifact's S3 key."""
    return logical_id(artifact, "code", "key")


def code_key_stem(artifact: str) -> str:
    """What precedes the sha256 in an artifact's key (and occurs in it once)."""
    return f"{ARTIFACT_PREFIX}/{artifact}-"


ARTIFACT_BUCKET = Param(
    "ArtifactBucket",
    group="Artifacts",
    label="Artifact bucket",
    description="S3 bucket holding the function and layer zips (make deploy fills it).",
    pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
    constraint="must be an S3 bucket name: 3-63 lower-case letters, digits, dots or hyphens.",
    supplier=FROM_DEPLOY,
)
CODE_KEYS = {
    artifact: Param(
        code_key_parameter(artifact),
        group="Artifacts",
        label=f"S3 key of {artifact}.zip",
        description=f"S3 key of the {artifact} zip in the artifact bucket (the build names it by "
        "content hash, so new code gets a new key).",
        # Exactly what the build (and taskcat, under <project>/dist/) names: the sha256 alone
        # then says which code this is (templates/deployments.py).
        pattern=rf"^([A-Za-z0-9_.-]{{1,32}}/dist/)?"
        rf"{code_key_stem(artifact)}[0-9a-f]{{64}}\.zip$",
        constraint=f"must be the build's key, {code_key_stem(artifact)}<sha256>.zip (under "
        "<project>/dist/ when taskcat uploads it).",
        supplier=FROM_BUILD,
    )
    for artifact in ARTIFACTS
}
RUNTIME = choice(
    "Runtime",
    group="Functions",
    label="Python runtime",
    description="Lambda Python runtime of every function, among the runtimes the build compiles "
    "bytecode for: every zip holds the .pyc files of CPython "
    + " and ".join(r.removeprefix("python") for r in PYTHON_RUNTIMES)
    + ".",
    allowed=PYTHON_RUNTIMES,
    default="python3.13",
)
ARCHITECTURE = choice(
    "Architecture",
    group="Functions",
    label="CPU architecture",
    description="Lambda architecture. arm64 (Graviton) costs less per GB-second; the layer is "
    "pure Python and runs on both.",
    allowed=("arm64", "x86_64"),
    default="arm64",
)
MEMORY_SIZE = number(
    "MemorySize",
    group="Functions",
    label="Memory (MB)",
    description="Memory of every function in MB; CPU grows with it.",
    low=MINIMUM_MEMORY,
    high=MAXIMUM_MEMORY,
    unit="MB",
)
TIMEOUT = number(
    "Timeout",
    group="Functions",
    label="Timeout (s)",
    description="Timeout of every function in seconds. API Gateway stops waiting after 29 s, so a "
    "longer timeout only lets the function finish after the client got a 504.",
    low=1,
    high=30,
    unit="seconds",
)
RESERVED_CONCURRENCY = number(
    "ReservedConcurrency",
    group="Functions",
    label="Reserved concurrency per function",
    description="Concurrent executions reserved for (and capping) each function, so one route "
    "cannot starve the others. 0: no reservation (the functions share the account's pool; new "
    "accounts must use 0). The account keeps at least 100 unreserved, so "
    f"{len(FUNCTIONS)} functions x this value must fit in the account's limit minus 100.",
    low=0,
    high=100,
    unit="executions",
    default=0,
)
SNAP_START = choice(
    "SnapStart",
    group="Functions",
    label="SnapStart",
    description="PublishedVersions: Lambda initializes each function when its version is "
    "published and resumes new execution environments from that snapshot, cutting cold starts. "
    "It costs a snapshot cache per published version and a charge per restore (Python), and "
    "cannot be combined with provisioned concurrency, EFS or over 512 MB of ephemeral storage. "
    "None: every cold start initializes.",
    allowed=("None", "PublishedVersions"),
    default="None",
)
PARAMETERS = (
    ARTIFACT_BUCKET,
    RUNTIME,
    ARCHITECTURE,
    MEMORY_SIZE,
    TIMEOUT,
    RESERVED_CONCURRENCY,
    SNAP_START,
    *CODE_KEYS.values(),
)


@dataclass(frozen=True)
class Functions:
    layer: awslambda.LayerVersion
    by_name: dict[str, awslambda.Function]

    def arn(self, name: str) -> GetAtt:
        return self.by_name[name].get_att("Arn")


def code(artifact: str) -> dict:
    """Where an artifact lies, as a Code or Content property takes it."""
    return {"S3Bucket": ARTIFACT_BUCKET.ref(), "S3Key": CODE_KEYS[artifact].ref()}


def add(
    t: Template,
    data: Data,
    security: Security,
    policies: dict[str, iam.PolicyType],
    log_groups: LogGroups,
) -> Functions:
    """Each function waits for its policy, so it never runs without its permissions (and Lambda
    checks the dead letter queue permission when it creates the function)."""
    t.add_condition(RESERVED, Not(Equals(RESERVED_CONCURRENCY.ref(), 0)))
    suppress_everywhere(
        t,
        "WS1004",
        "cfn-lint-serverless finds a function's log group only by a LogGroupName naming the "
        "function, but ours are named by CloudFormation and wired through LoggingConfig.LogGroup "
        "(a fixed name would block the next stack after a destroy); "
        "tests/templates/test_template.py checks that every function logs to a group of this "
        "stack with a retention.",
    )
    layer = t.add_resource(
        awslambda.LayerVersion(
            logical_id("shared", "layer"),
            LayerName=physical_name("shared"),
            Description="items_common and the functions' pinned third-party libraries.",
            Content=awslambda.Content(**code(LAYER)),
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
                Runtime=RUNTIME.ref(),
                Architectures=[ARCHITECTURE.ref()],
                MemorySize=MEMORY_SIZE.ref(),
                Timeout=TIMEOUT.ref(),
                Role=security.roles[f.name].get_att("Arn"),
                KmsKeyArn=security.data_key.get_att("Arn"),
                DeadLetterConfig=awslambda.DeadLetterConfig(
                    TargetArn=data.failure_queue.get_att("Arn")
                ),
                ReservedConcurrentExecutions=If(RESERVED, RESERVED_CONCURRENCY.ref(), NoValue),
                VpcConfig=If(
                    IN_VPC,
                    awslambda.VPCConfig(
                        SubnetIds=VPC_SUBNET_IDS.ref(),
                        SecurityGroupIds=VPC_SECURITY_GROUP_IDS.ref(),
                    ),
                    NoValue,
                ),
                Code=awslambda.Code(**code(f.name)),
                Layers=[Ref(layer)],
                TracingConfig=awslambda.TracingConfig(Mode="Active"),
                # Applies to the versions published from now on: the Version's Description
                # records the value, so an edit publishes a new one (deployments.py).
                SnapStart=awslambda.SnapStart(ApplyOn=SNAP_START.ref()),
                LoggingConfig=logging_config(log_groups.functions[f.name]),
                # Lambda stops a loop of invocations through SQS, SNS or S3 (AWS's default;
                # written so that nobody turns it off by accident).
                RecursiveLoop="Terminate",
                Environment=awslambda.Environment(
                    Variables={
                        "TABLE_NAME": Ref(data.table),
                        "PARTITION_KEY": PARTITION_KEY_NAME.ref(),
                        "SORT_KEY": SORT_KEY_NAME.ref(),
                        "BUCKET_NAME": Ref(data.bucket),
                        "IDEMPOTENCY_TABLE": Ref(data.idempotency_table),
                        "ROUTE_PREFIX": ROUTE_PREFIX.ref(),
                        "CORS_ALLOW_ORIGIN": CORS_ALLOW_ORIGIN.ref(),
                        "CORS_ALLOW_CREDENTIALS": CORS_ALLOW_CREDENTIALS.ref(),
                        "STAGE": STAGE.ref(),
                        "LOG_LEVEL": LOG_LEVEL.ref(),
                        "POWERTOOLS_SERVICE_NAME": physical_name(f.name),
                        "POWERTOOLS_METRICS_NAMESPACE": Sub("${Project}-${Stage}"),
                    }
                ),
            )
        )
        by_name[f.name] = fn
        # Asynchronous-invocation settings go on the `live` alias (templates/deployments.py).
    return Functions(layer=layer, by_name=by_name)
