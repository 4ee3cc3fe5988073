"""Stack outputs, each exported under `<stack name>-<output>` for other stacks to import."""

from troposphere import Export, Output, Ref, Sub, Template, cloudwatch

from .api import Api
from .api_stage import ApiStage
from .catalog import FUNCTIONS
from .data import Data
from .domain import Domain
from .functions import Functions
from .monitoring import Monitoring
from .naming import logical_id
from .security import Security
from .stage import STAGE


def _output(t: Template, name: str, value, description: str, **condition) -> None:
    t.add_output(
        Output(
            name,
            Description=description,
            Value=value,
            Export=Export(Sub(f"${{AWS::StackName}}-{name}")),
            **condition,
        )
    )


def add(
    t: Template,
    data: Data,
    security: Security,
    functions: Functions,
    api: Api,
    served_by: ApiStage,
    domain: Domain,
    monitoring: Monitoring,
    dashboard: cloudwatch.Dashboard,
) -> None:
    _output(
        t,
        "ApiUrl",
        Sub(
            "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}/",
            Api=Ref(api.rest_api),
            Stage=Ref(served_by.stage),
        ),
        "Base URL of the API stage.",
    )
    _output(
        t,
        "DomainUrl",
        Sub("https://${Name}/", Name=Ref(domain.name)),
        "Base URL of the API under CustomDomainName.",
        Condition=domain.name.Condition,
    )
    _output(
        t,
        "DomainTarget",
        domain.name.get_att("RegionalDomainName"),
        "Where CustomDomainName must point (an alias or CNAME record), when this stack does "
        "not make the Route 53 record itself.",
        Condition=domain.name.Condition,
    )
    _output(t, "TableName", Ref(data.table), "Name of the items table.")
    _output(t, "TableArn", data.table.get_att("Arn"), "ARN of the items table.")
    _output(t, "TableStreamArn", data.table.get_att("StreamArn"), "ARN of the table's stream.")
    _output(t, "BucketName", Ref(data.bucket), "Bucket of attachments (items/) and audit (audit/).")
    _output(
        t,
        "DataKeyArn",
        security.data_key.get_att("Arn"),
        "Key of the table, bucket, failure queue and the functions' environment.",
    )
    _output(
        t,
        "TelemetryKeyArn",
        security.telemetry_key.get_att("Arn"),
        "Key of the log groups and the alarm topic.",
    )
    _output(
        t,
        "ApiKeyId",
        Ref(served_by.api_key),
        "ID of the API key (AuthType API_KEY); its value: aws apigateway get-api-key "
        "--api-key <id> --include-value.",
        Condition=served_by.api_key.Condition,
    )
    _output(
        t, "FailureQueueUrl", Ref(data.failure_queue), "Queue of what the functions gave up on."
    )
    _output(t, "Stage", STAGE.ref(), "Deployment stage of this stack.")
    _output(t, "AlarmTopicArn", Ref(monitoring.topic), "SNS topic every alarm notifies.")
    _output(
        t,
        "DashboardUrl",
        Sub(
            "https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home?region=${AWS::Region}"
            "#dashboards:name=${Dashboard}",
            Dashboard=Ref(dashboard),
        ),
        "CloudWatch dashboard of the stack.",
    )
    for f in FUNCTIONS:
        fn = functions.by_name[f.name]
        _output(t, logical_id(f.name, "function", "name"), Ref(fn), f"Name of {f.name}.")
        _output(
            t, logical_id(f.name, "function", "arn"), functions.arn(f.name), f"ARN of {f.name}."
        )
