"""Functions and routes as data: one row per function drives its role, log group, code
parameter, function, permission, method and outputs. Add a route by adding a row."""

from dataclasses import dataclass

# The collection's path segment; the template turns it into the RoutePrefix parameter.
COLLECTION = "items"


@dataclass(frozen=True)
class Access:
    """What a function may do: DynamoDB actions on the table or its stream, S3 actions under
    the bucket's attachments (items/) and audit (audit/) prefixes, SQS actions on the stream's
    failure queue. Nothing else."""

    table: tuple[str, ...] = ()
    attachments: tuple[str, ...] = ()
    audit: tuple[str, ...] = ()
    stream: tuple[str, ...] = ()  # on the table's stream
    failure_queue: tuple[str, ...] = ()  # on the stream consumer's on-failure queue


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function and the one API route it serves (none for the stream consumer)."""

    name: str  # folder under functions/, snake_case
    method: str | None  # HTTP method of its route
    path: tuple[str, ...]  # route segments below the API root; () is `/`
    access: Access  # in plain mode (no sort key)
    description: str
    history_access: Access | None = None  # in history mode, when it differs
    business_metric: str | None = None  # the EMF metric it emits per successful write

    @property
    def route(self) -> str:
        return "/" + "/".join(self.path)

    @property
    def in_history_mode(self) -> Access:
        return self.history_access or self.access


ITEM = (COLLECTION, "{id}")
STREAM_READ = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
)

FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec("health", "GET", (), Access(), "Health check: answers with the stage."),
    FunctionSpec(
        "list_items",
        "GET",
        (COLLECTION,),
        Access(table=("dynamodb:Scan", "dynamodb:Query")),
        "Lists items a page at a time.",
    ),
    FunctionSpec(
        "get_item",
        "GET",
        ITEM,
        Access(table=("dynamodb:GetItem",), attachments=("s3:GetObject",)),
        "Reads one item and its attachment.",
    ),
    FunctionSpec(
        "create_item",
        "POST",
        (COLLECTION,),
        Access(table=("dynamodb:PutItem",), attachments=("s3:PutObject",)),
        "Creates one item.",
        business_metric="ItemsCreated",
    ),
    FunctionSpec(
        "update_item",
        "PUT",
        ITEM,
        Access(table=("dynamodb:GetItem", "dynamodb:UpdateItem"), attachments=("s3:PutObject",)),
        "Replaces one item's attributes (history mode: adds a version).",
        history_access=Access(
            table=("dynamodb:GetItem", "dynamodb:PutItem"), attachments=("s3:PutObject",)
        ),
        business_metric="ItemsUpdated",
    ),
    FunctionSpec(
        "delete_item",
        "DELETE",
        ITEM,
        Access(table=("dynamodb:DeleteItem",), attachments=("s3:DeleteObject",)),
        "Deletes one item (history mode: writes a tombstone).",
        history_access=Access(table=("dynamodb:GetItem", "dynamodb:PutItem")),
        business_metric="ItemsDeleted",
    ),
    FunctionSpec(
        "list_versions",
        "GET",
        (*ITEM, "versions"),
        Access(table=("dynamodb:GetItem",)),
        "Lists an item's versions (plain mode: the current one).",
        history_access=Access(table=("dynamodb:Query",)),
    ),
    FunctionSpec(
        "stream_audit",
        None,
        (),
        Access(stream=STREAM_READ, failure_queue=("sqs:SendMessage",), audit=("s3:PutObject",)),
        "Writes one audit entry per table change, from the table's stream.",
    ),
)


# The shared layer's artifact name, next to the functions' names in the build.
LAYER = "layer"
# Every zip the build makes and the template takes a code key for.
ARTIFACTS: tuple[str, ...] = (LAYER, *(f.name for f in FUNCTIONS))

# The functions that serve an API route (the others are triggered by events).
ROUTES: tuple[FunctionSpec, ...] = tuple(f for f in FUNCTIONS if f.method)
