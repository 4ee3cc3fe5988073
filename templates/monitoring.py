"""Alarms generated from the function rows: no alarm is written out by hand per function.

Today: each function's errors and p99 duration against the stage's thresholds (seed 000).
Missing data (no traffic) is not a breach."""

from dataclasses import dataclass

from troposphere import Ref, Sub, Template, cloudwatch

from .catalog import FUNCTIONS
from .functions import Functions
from .naming import logical_id, slug
from .parameters import Params

PERIOD = 300  # seconds


@dataclass(frozen=True)
class FunctionAlarm:
    """One alarm every function gets."""

    what: str  # in the alarm's name and logical ID
    description: str
    metric: str
    statistic: dict  # Statistic or ExtendedStatistic
    comparison: str
    threshold: str  # the Params field holding the threshold


FUNCTION_ALARMS = (
    FunctionAlarm("errors", "errors at or above the stage's threshold in 5 minutes", "Errors",
                  {"Statistic": "Sum"}, "GreaterThanOrEqualToThreshold",
                  "error_alarm_threshold"),
    FunctionAlarm("duration", "p99 duration above the stage's threshold over 5 minutes",
                  "Duration", {"ExtendedStatistic": "p99"}, "GreaterThanThreshold",
                  "duration_alarm_threshold_ms"),
)  # fmt: skip


def add(t: Template, params: Params, functions: Functions) -> None:
    for f in FUNCTIONS:
        for alarm in FUNCTION_ALARMS:
            t.add_resource(
                cloudwatch.Alarm(
                    logical_id(f.name, alarm.what, "alarm"),
                    AlarmName=Sub(f"${{AWS::StackName}}-{slug(f.name)}-{alarm.what}"),
                    AlarmDescription=Sub(f"${{AWS::StackName}} {f.name}: {alarm.description}"),
                    Namespace="AWS/Lambda",
                    MetricName=alarm.metric,
                    Dimensions=[
                        cloudwatch.MetricDimension(
                            Name="FunctionName", Value=Ref(functions.by_name[f.name])
                        )
                    ],
                    Period=PERIOD,
                    EvaluationPeriods=1,
                    ComparisonOperator=alarm.comparison,
                    Threshold=Ref(getattr(params, alarm.threshold)),
                    TreatMissingData="notBreaching",
                    **alarm.statistic,
                )
            )
