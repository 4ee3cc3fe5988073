"""Functions and routes as data: one row per function drives its role, log group, code
parameter, function, permission, method and outputs. Add a route by adding a row."""

from dataclasses import dataclass

# The collection's path segment (a later change makes it a parameter).
COLLECTION = "items"


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function and the one API route it serves."""

    name: str  # folder under functions/, snake_case
    method: str  # HTTP method of its route
    path: tuple[str, ...]  # route segments below the API root; () is `/`
    table_actions: tuple[str, ...]  # the only DynamoDB actions its role gets
    description: str

    @property
    def route(self) -> str:
        return "/" + "/".join(self.path)


FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec("health", "GET", (), (), "Health check: answers with the stage."),
    FunctionSpec(
        "list_items",
        "GET",
        (COLLECTION,),
        ("dynamodb:Scan", "dynamodb:Query"),
        "Lists items a page at a time.",
    ),
    FunctionSpec("get_item", "GET", (COLLECTION, "{id}"), ("dynamodb:GetItem",), "Reads one item."),
    FunctionSpec("create_item", "POST", (COLLECTION,), ("dynamodb:PutItem",), "Creates one item."),
    FunctionSpec(
        "update_item",
        "PUT",
        (COLLECTION, "{id}"),
        ("dynamodb:GetItem", "dynamodb:UpdateItem"),
        "Replaces one item's attributes.",
    ),
    FunctionSpec(
        "delete_item", "DELETE", (COLLECTION, "{id}"), ("dynamodb:DeleteItem",), "Deletes one item."
    ),
)

# The shared layer's artifact name, next to the functions' names in the build.
LAYER = "layer"
