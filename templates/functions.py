"""The shared layer and one Lambda function per catalog row."""

from dataclasses import dataclass

from troposphere import GetAtt, Ref, Sub, Template, awslambda

from .catalog import FUNCTIONS, LAYER
from .data import Data
from .log_groups import LogGroups
from .naming import logical_id, physical_name
from .parameters import PYTHON_RUNTIMES, Params
from .security import Security
from .suppressions import suppress

HANDLER = "app.lambda_handler"  # every function folder has app.py at its zip root
LOG_GROUP_RULE_REASON = (
    "The function's log group /aws/lambda/<stack>-<function> is an explicit LogGroup with "
    "RetentionInDays that the function Refs in LoggingConfig, so it exists before the function. "
    "WS1004 only recognises a log group whose name Refs the function, which would create it "
    "after the function."
)


@dataclass(frozen=True)
class Functions:
    layer: awslambda.LayerVersion
    by_name: dict[str, awslambda.Function]

    def arn(self, name: str) -> GetAtt:
        return self.by_name[name].get_att("Arn")


def _code(params: Params, artifact: str) -> dict:
    return {"S3Bucket": Ref(params.artifact_bucket), "S3Key": Ref(params.code_keys[artifact])}


def add(
    t: Template, params: Params, data: Data, log_groups: LogGroups, security: Security
) -> Functions:
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
        fn = suppress(
            awslambda.Function(
                logical_id(f.name, "function"),
                FunctionName=physical_name(f.name),
                Description=f.description,
                Handler=HANDLER,
                Runtime=Ref(params.runtime),
                Architectures=[Ref(params.architecture)],
                MemorySize=Ref(params.memory_size),
                Timeout=Ref(params.timeout),
                Role=security.roles[f.name].get_att("Arn"),
                KmsKeyArn=security.key.get_att("Arn"),
                Code=awslambda.Code(**_code(params, f.name)),
                Layers=[Ref(layer)],
                TracingConfig=awslambda.TracingConfig(Mode="Active"),
                LoggingConfig=awslambda.LoggingConfig(LogGroup=Ref(log_groups.functions[f.name])),
                Environment=awslambda.Environment(
                    Variables={
                        "TABLE_NAME": Ref(data.table),
                        "PARTITION_KEY": Ref(params.partition_key_name),
                        "SORT_KEY": Ref(params.sort_key_name),
                        "BUCKET_NAME": Ref(data.bucket),
                        "CORS_ALLOW_ORIGIN": Ref(params.cors_allow_origin),
                        "CORS_ALLOW_CREDENTIALS": Ref(params.cors_allow_credentials),
                        "STAGE": Ref(params.stage),
                        "LOG_LEVEL": Ref(params.log_level),
                        "POWERTOOLS_SERVICE_NAME": physical_name(f.name),
                        "POWERTOOLS_METRICS_NAMESPACE": Sub("${Project}-${Stage}"),
                    }
                ),
            ),
            "WS1004",
            LOG_GROUP_RULE_REASON,
        )
        by_name[f.name] = t.add_resource(fn)
        t.add_resource(
            awslambda.EventInvokeConfig(
                logical_id(f.name, "invoke", "config"),
                FunctionName=Ref(fn),
                Qualifier="$LATEST",
                MaximumRetryAttempts=Ref(params.async_retry_attempts),
            )
        )
    return Functions(layer=layer, by_name=by_name)
