"""Functions and routes as data: one row per function drives its role, log group, code
parameter, function, version, `live` alias, deployment group, permission, method and outputs.
Add a route by adding a row."""

from dataclasses import dataclass

from .parameters import Param

# The collection's path segment; the template turns it into the RoutePrefix parameter.
COLLECTION = "items"
ROUTE_PREFIX = Param(
    "RoutePrefix",
    group="API",
    label="Route prefix",
    description="Collection path: /<prefix> and /<prefix>/{id}.",
    default=COLLECTION,
    pattern=r"^[a-z][a-z0-9-]{0,31}$",
    constraint="must be 1-32 lower-case letters, digits or hyphens, starting with a letter.",
)
PARAMETERS = (ROUTE_PREFIX,)


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
    idempotency: tuple[str, ...] = ()  # on the idempotency table (Idempotency-Key records)


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
    # Every status the route answers with, besides 500 for an unexpected failure (templates/
    # openapi.py documents them; a handler must never answer another). 503 (with Retry-After):
    # AWS throttled or was unavailable past the retries, or the request's deadline passed.
    statuses: tuple[int, ...] = ()

    @property
    def route(self) -> str:
        return "/" + "/".join(self.path)

    @property
    def in_history_mode(self) -> Access:
        return self.history_access or self.access


ITEM = (COLLECTION, "{id}")
# Powertools idempotency: a record per Idempotency-Key, written, completed or dropped.
IDEMPOTENCY_RECORDS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
)
# Writing an attachment: the object, tagged pending (items_common.attachments).
ATTACHMENT_WRITE = ("s3:PutObject", "s3:PutObjectTagging")
# PUT and PATCH: the same grants, metric and statuses (only how the body changes the item differs).
UPDATE_ACCESS = Access(
    table=("dynamodb:GetItem", "dynamodb:UpdateItem"), attachments=ATTACHMENT_WRITE
)
UPDATE = {
    "history_access": Access(
        table=("dynamodb:GetItem", "dynamodb:PutItem"), attachments=ATTACHMENT_WRITE
    ),
    "business_metric": "ItemsUpdated",
    "statuses": (200, 400, 404, 409, 412, 413, 503),
}
STREAM_READ = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
)

FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        "health", "GET", (), Access(), "Health check: answers with the stage.", statuses=(200,)
    ),
    FunctionSpec(
        "openapi",
        "GET",
        ("openapi.json",),
        Access(),
        "Serves the API's OpenAPI 3 document.",
        statuses=(200,),
    ),
    FunctionSpec(
        "list_items",
        "GET",
        (COLLECTION,),
        Access(table=("dynamodb:Scan", "dynamodb:Query")),
        "Lists items a page at a time.",
        statuses=(200, 400, 503),
    ),
    FunctionSpec(
        "get_item",
        "GET",
        ITEM,
        Access(table=("dynamodb:GetItem",), attachments=("s3:GetObject",)),
        "Reads one item and its attachment.",
        statuses=(200, 400, 404, 503),
    ),
    FunctionSpec(
        "create_item",
        "POST",
        (COLLECTION,),
        # GetItem: a retried creation finds the item its Idempotency-Key made (idempotency.py).
        Access(
            table=("dynamodb:GetItem", "dynamodb:PutItem"),
            attachments=ATTACHMENT_WRITE,
            idempotency=IDEMPOTENCY_RECORDS,
        ),
        "Creates one item (once per Idempotency-Key).",
        business_metric="ItemsCreated",
        statuses=(201, 400, 409, 413, 422, 503),
    ),
    FunctionSpec(
        "update_item",
        "PUT",
        ITEM,
        UPDATE_ACCESS,
        "Replaces one item's attributes (history mode: adds a version).",
        **UPDATE,
    ),
    FunctionSpec(
        "patch_item",
        "PATCH",
        ITEM,
        UPDATE_ACCESS,
        "Merges attributes into one item (JSON merge patch; history mode: adds a version).",
        **UPDATE,
    ),
    FunctionSpec(
        "delete_item",
        "DELETE",
        ITEM,
        Access(table=("dynamodb:GetItem", "dynamodb:DeleteItem"), attachments=("s3:DeleteObject",)),
        "Deletes one item (history mode: writes a tombstone).",
        history_access=Access(table=("dynamodb:GetItem", "dynamodb:PutItem")),
        business_metric="ItemsDeleted",
        statuses=(204, 400, 404, 409, 412, 503),
    ),
    FunctionSpec(
        "list_versions",
        "GET",
        (*ITEM, "versions"),
        Access(table=("dynamodb:GetItem",)),
        "Lists an item's versions (plain mode: the current one).",
        history_access=Access(table=("dynamodb:Query",)),
        statuses=(200, 400, 404, 503),
    ),
    FunctionSpec(
        "stream_audit",
        None,
        (),
        # Attachment upkeep (items_common.upkeep): commit new objects, delete dropped ones, and
        # read a row's file_key when a commit finds its object gone.
        Access(
            table=("dynamodb:GetItem",),
            stream=STREAM_READ,
            failure_queue=("sqs:SendMessage",),
            audit=("s3:PutObject",),
            attachments=("s3:DeleteObject", "s3:DeleteObjectTagging"),
        ),
        "Writes one audit entry per table change, from the table's stream, and commits or "
        "deletes the attachments it references.",
        # History mode only commits: its versions reference every object.
        history_access=Access(
            stream=STREAM_READ,
            failure_queue=("sqs:SendMessage",),
            audit=("s3:PutObject",),
            attachments=("s3:DeleteObjectTagging",),
        ),
    ),
)


# The shared layer's artifact name, next to the functions' names in the build.
LAYER = "layer"
# The custom resource's handler (templates/api_deployment.py): a function of the stack's own
# machinery, not a catalog row (no route, no version, no alias).
API_DEPLOYMENT = "api_deployment"
# Every zip the build makes and the template takes a code key for.
ARTIFACTS: tuple[str, ...] = (LAYER, *(f.name for f in FUNCTIONS), API_DEPLOYMENT)

# The functions that serve an API route (the others are triggered by events).
ROUTES: tuple[FunctionSpec, ...] = tuple(f for f in FUNCTIONS if f.method)
