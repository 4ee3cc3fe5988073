"""Alarms generated from the function rows: no alarm is written out by hand per function.

Today: each function's errors and p99 duration against the stage's thresholds (seed 000).
Missing data (no traffic) is not a breach."""

from troposphere import Ref, Sub, Template, cloudwatch

from .catalog import FUNCTIONS
from .functions import Functions
from .naming import logical_id, slug
from .parameters import Params

PERIOD = 300  # seconds


def _function_alarm(t, fn_name: str, functions: Functions, what: str, **metric) -> None:
    t.add_resource(
        cloudwatch.Alarm(
            logical_id(fn_name, what, "alarm"),
            AlarmName=Sub(f"${{AWS::StackName}}-{slug(fn_name)}-{what}"),
            Namespace="AWS/Lambda",
            Dimensions=[
                cloudwatch.MetricDimension(
                    Name="FunctionName", Value=Ref(functions.by_name[fn_name])
                )
            ],
            Period=PERIOD,
            EvaluationPeriods=1,
            TreatMissingData="notBreaching",
            **metric,
        )
    )


def add(t: Template, params: Params, functions: Functions) -> None:
    for f in FUNCTIONS:
        _function_alarm(
            t, f.name, functions, "errors",
            AlarmDescription=Sub(f"${{AWS::StackName}} {f.name}: errors at or above the stage's "
                                 "threshold in 5 minutes"),
            MetricName="Errors",
            Statistic="Sum",
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            Threshold=Ref(params.error_alarm_threshold),
        )  # fmt: skip
        _function_alarm(
            t, f.name, functions, "duration",
            AlarmDescription=Sub(f"${{AWS::StackName}} {f.name}: p99 duration above the stage's "
                                 "threshold over 5 minutes"),
            MetricName="Duration",
            ExtendedStatistic="p99",
            ComparisonOperator="GreaterThanThreshold",
            Threshold=Ref(params.duration_alarm_threshold_ms),
        )  # fmt: skip
