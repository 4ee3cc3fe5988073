"""The template's stateful resources (its tables, bucket and key) as moto's CloudFormation makes
them, for the handler tests (conftest's make_stack).

Creating that stack was most of a handler test's time, so a StackPool makes one stack per set
of parameter values and hands it to test after test, emptied as a new stack's would be: no row
in either table, a stream with no record, no object version, delete marker or upload in the
bucket. A stack whose tables, bucket or key were replaced, deleted or reconfigured since it
was made (a test dropped the table; another test's mock_aws reset moto) is never handed out
again: the test gets a new one.

moto's own objects are read to see that (no HTTP round trip per test), and the tables are
emptied there too: moto cannot enable a table's stream again once disabled, so a new stream can
only be had by giving the table a new shard, as moto does for a new table. The bucket is emptied
through the API.
"""

import json
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import boto3
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import StreamShard
from moto.kms.models import kms_backends
from moto.s3.models import s3_backends

from tests import cfn
from tests.aws import REGION
from tools.deploy.stage_params import stage_values
from tools.deploy.teardown import empty_bucket
from tools.intrinsics import Resolver
from tools.local.stack import create_part, state_part

TABLE, BUCKET, KEY = "AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::KMS::Key"
SET_BY_AWS_ENV = ("STAGE", "LOG_LEVEL", "POWERTOOLS_SERVICE_NAME")
# A bucket's settings, as moto keeps them (a test that changes one gets a new stack after).
BUCKET_SETTINGS = ("versioning_status", "encryption", "rules", "policy", "cors",
                   "public_access_block", "ownership_rule", "notification_configuration",
                   "object_lock_enabled", "acl")  # fmt: skip


@dataclass
class Stack:
    """The template's stateful resources as moto created them, and the parameters used. The
    table and bucket are boto3 resources of the default session the test had when it made the
    stack (so a hooks fixture's later session never reaches them), made on first use."""

    parameters: dict[str, str]
    table_name: str
    bucket_name: str
    session: boto3.Session

    @cached_property
    def table(self) -> Any:
        return self.session.resource("dynamodb", region_name=REGION).Table(self.table_name)

    @cached_property
    def bucket(self) -> Any:
        return self.session.resource("s3", region_name=REGION).Bucket(self.bucket_name)


def function_environment(template: dict, values: dict[str, str], physical: dict) -> dict:
    """The environment the template gives the functions, resolved for these parameter values
    and these physical resources (the functions share it, bar their service name)."""
    fn = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
    resolver = Resolver(template, values, lambda name, _: physical[name])
    env = resolver.resolve(fn["Properties"]["Environment"]["Variables"])
    return {k: v for k, v in env.items() if isinstance(v, str) and k not in SET_BY_AWS_ENV}


def env_ref(template: dict, variable: str) -> str:
    """The logical ID of the resource a function environment variable names (Ref)."""
    fn = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
    return fn["Properties"]["Environment"]["Variables"][variable]["Ref"]


@dataclass
class Made:
    """One stack of the pool: its parameter values, physical IDs, the functions' environment,
    and moto's objects and their settings as they were when it was made."""

    name: str
    values: dict[str, str]
    physical: dict[str, str]
    environment: dict[str, str]
    table: str  # the items table's name (the functions' TABLE_NAME)
    bucket: str
    objects: dict[str, Any] = field(default_factory=dict)
    settings: str = ""


class StackPool:
    """Stacks by parameter values, in moto's in-process backends (a mock_aws must be active
    when one is taken). The n-th stack a test asks for with given values is the pool's n-th
    with those values, so a test that makes two alike still gets two."""

    def __init__(self, template: dict) -> None:
        self.template = template
        self.part = state_part(template)
        self.base = stage_values(template, "test")
        self.stacks: dict[tuple, list[Made]] = {}
        self.created = 0
        # Clients of the pool's own (dummy credentials), never those a test hooks.
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        self.cloudformation = session.client("cloudformation")
        self.s3 = session.client("s3")

    def take(self, overrides: dict[str, str], taken: Counter[tuple]) -> Made:
        """A stack with params/test.json plus `overrides`, empty (made if need be): the pool's
        first with those values, or its second if the test `taken` so far has the first..."""
        values = {**self.base, **overrides}
        key = tuple(sorted(values.items()))
        nth = taken[key]
        taken[key] += 1
        made = self.stacks.setdefault(key, [])
        if nth < len(made) and self._unchanged(made[nth]):
            self._empty(made[nth])
            return made[nth]
        stack = self._create(values)
        made[nth:nth + 1] = [stack]  # fmt: skip
        return stack

    def _create(self, values: dict[str, str]) -> Made:
        name = f"handler-tests-{self.created}"
        self.created += 1
        physical = create_part(self.cloudformation, name, self.part, values)
        environment = function_environment(self.template, values, physical)
        [bucket_id] = cfn.resources_of_type(self.part, BUCKET)
        table = physical[env_ref(self.template, "TABLE_NAME")]
        made = Made(name, values, physical, environment, table, physical[bucket_id])
        made.objects = self._objects(made)
        assert None not in made.objects.values(), f"moto's objects not found: {made.objects}"
        made.settings = self._settings(made.objects)
        return made

    # moto's objects ----------------------------------------------------------------------

    def _objects(self, made: Made) -> dict[str, Any]:
        """moto's object for each resource of the stack (None where it is gone)."""
        found = {}
        for rid, resource in self.part["Resources"].items():
            physical = made.physical[rid]
            if resource["Type"] == TABLE:
                found[rid] = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables.get(physical)
            elif resource["Type"] == BUCKET:
                found[rid] = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets.get(physical)
            elif resource["Type"] == KEY:
                found[rid] = kms_backends[DEFAULT_ACCOUNT_ID][REGION].keys.get(physical)
        return found

    def _settings(self, objects: dict[str, Any]) -> str:
        """What a test could change about the resources besides their data, as text (an object
        of moto's by its identity: a put replaces it)."""
        settings: dict[str, Any] = {}
        for rid, thing in objects.items():
            if thing is None:
                continue
            kind = self.part["Resources"][rid]["Type"]
            if kind == TABLE:
                described = thing.describe()["TableDescription"]
                described.pop("ItemCount")
                described.pop("TableSizeBytes")
                settings[rid] = [described, thing.ttl, thing.tags, thing.continuous_backups]
            elif kind == BUCKET:
                settings[rid] = [getattr(thing, name, None) for name in BUCKET_SETTINGS]
            elif kind == KEY:
                settings[rid] = [thing.key_state, thing.enabled, thing.policy]
        return json.dumps(settings, sort_keys=True, default=_identity)

    def _unchanged(self, made: Made) -> bool:
        """The stack's resources are the very ones made, with the settings they were made with."""
        objects = self._objects(made)
        same = all(objects[rid] is thing for rid, thing in made.objects.items())
        return same and self._settings(objects) == made.settings

    def _empty(self, made: Made) -> None:
        """No rows and a new stream in the tables; no version, delete marker or upload in the
        bucket."""
        for rid, thing in made.objects.items():
            kind = self.part["Resources"][rid]["Type"]
            if kind == TABLE:
                thing.items.clear()
                if thing.stream_shard is not None:
                    thing.stream_shard = StreamShard(thing.account_id, thing)
            elif kind == BUCKET and (len(thing.keys) or len(thing.multiparts)):
                empty_bucket(self.s3, made.physical[rid])


def _identity(thing: object) -> str:
    return f"<{type(thing).__name__} {id(thing)}>"
