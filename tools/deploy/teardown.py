"""`make destroy`: delete a stage's stack, then say what it left behind, and PURGE that too.

The stack's retained resources (DeletionPolicy Retain or RetainExceptOnCreate: table, bucket,
KMS keys, log groups, queue) survive the delete on purpose: they are listed with their physical
IDs, so nothing is lost silently. PURGE=1 deletes them as well (never for prod): the tables
(deletion protection turned off first, then waiting for ACTIVE), the bucket (every object
version and delete marker first), the log groups and the queue; KMS keys cannot be deleted at
once, so they are scheduled for deletion after the shortest waiting period AWS allows (7 days)
and can still be cancelled. Account-level
resources (the API Gateway logging role and account setting) are never purged: other APIs in
the account use them.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

KMS_PENDING_DAYS = 7  # the minimum AWS allows
# Both keep the resource on a stack delete (RetainExceptOnCreate deletes only on a failed create).
RETAINING_POLICIES = ("Retain", "RetainExceptOnCreate")
PURGED_TYPES = (
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
    "AWS::Logs::LogGroup",
    "AWS::SQS::Queue",
    "AWS::KMS::Key",
)


class TeardownError(Exception):
    """A destroy that must not go on, with the reason for the operator."""


@dataclass(frozen=True)
class Retained:
    logical_id: str
    resource_type: str
    physical_id: str


def retained(template: dict[str, Any], live: dict[str, tuple[str, str]]) -> list[Retained]:
    """The stack's resources that its delete leaves behind, with their physical IDs; `live` is
    logical ID -> (type, physical ID), as tools.deploy.preflight.live_resources reads it."""
    keep = {
        k for k, r in template["Resources"].items() if r.get("DeletionPolicy") in RETAINING_POLICIES
    }
    return sorted(
        (Retained(rid, kind, physical) for rid, (kind, physical) in live.items() if rid in keep),
        key=lambda r: (r.resource_type, r.logical_id),
    )


def confirm(stack_name: str, yes: bool, ask: Callable[[str], str] = input) -> None:
    if yes:
        return
    typed = ask(f"Type the stack name ({stack_name}) to delete it: ").strip()
    if typed != stack_name:
        raise TeardownError(f"{typed!r} is not {stack_name!r}: nothing deleted.")


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker (a versioned bucket keeps both), and abort
    every multipart upload; returns how many versions and markers went."""
    count = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        doomed = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if doomed:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})
            count += len(doomed)
    for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    return count


def purge(session: Any, resource: Retained, out: Callable[[str], None] = print) -> None:
    """Delete one retained resource (see the module docstring)."""
    kind, name = resource.resource_type, resource.physical_id
    if kind == "AWS::DynamoDB::Table":
        dynamodb = session.client("dynamodb")
        dynamodb.update_table(TableName=name, DeletionProtectionEnabled=False)
        # DeleteTable refuses a table that is not ACTIVE (ResourceInUseException), and the
        # update leaves it UPDATING for a moment.
        dynamodb.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 150}
        )
        dynamodb.delete_table(TableName=name)
        out(f"  purged table {name}")
    elif kind == "AWS::S3::Bucket":
        s3 = session.client("s3")
        count = empty_bucket(s3, name)
        s3.delete_bucket(Bucket=name)
        out(f"  purged bucket {name} ({count} object versions and delete markers)")
    elif kind == "AWS::Logs::LogGroup":
        session.client("logs").delete_log_group(logGroupName=name)
        out(f"  purged log group {name}")
    elif kind == "AWS::SQS::Queue":
        session.client("sqs").delete_queue(QueueUrl=name)
        out(f"  purged queue {name}")
    elif kind == "AWS::KMS::Key":
        kms = session.client("kms")
        kms.schedule_key_deletion(KeyId=name, PendingWindowInDays=KMS_PENDING_DAYS)
        out(f"  KMS key {name}: deletion scheduled in {KMS_PENDING_DAYS} days (cancellable)")
    else:
        out(f"  kept {kind} {name}: account-level, shared with other stacks")
