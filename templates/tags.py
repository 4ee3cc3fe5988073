"""Tags on every resource that takes them, from one place, so no resource is forgotten.

The composition root's template is a TaggedTemplate: a resource is tagged as it is added, so no
module repeats the tags and none waits for a pass over the finished template. Environment is
the stage; ManagedBy says CloudFormation owns the resource (edit the stack, not the resource)."""

from troposphere import Tags, Template

from .parameters import Param
from .stage import STAGE

MANAGED_BY = "CloudFormation"
# The Project parameter's default: the stack names' and the artifact bucket's prefix as well.
PROJECT = "items-api"


def _tag(name: str, label: str, description: str, default: str, longest: int = 256) -> Param:
    """A tag value (AWS allows 256 characters; `longest` when the value is used elsewhere)."""
    return Param(
        name,
        group="Tags",
        label=label,
        description=f"{description} Tagged on every taggable resource.",
        default=default,
        pattern=rf"^[A-Za-z0-9 _.:/=+@-]{{1,{longest}}}$",
        constraint=f"must be 1-{longest} letters, digits, spaces or _ . : / = + @ -.",
    )


PROJECT_TAG = _tag(
    "Project",
    "Project tag",
    "Project the resources belong to, and the functions' metric namespace (<Project>-<Stage>).",
    PROJECT,
    longest=32,
)
OWNER_TAG = _tag("Owner", "Owner tag", "Team or person answerable for the stack.", "unassigned")
COST_CENTER_TAG = _tag("CostCenter", "Cost center tag", "Cost allocation key.", "unassigned")
PARAMETERS = (PROJECT_TAG, OWNER_TAG, COST_CENTER_TAG)


TAGS = Tags(
    Project=PROJECT_TAG.ref(),
    Environment=STAGE.ref(),
    Owner=OWNER_TAG.ref(),
    CostCenter=COST_CENTER_TAG.ref(),
    ManagedBy=MANAGED_BY,
)


class TaggedTemplate(Template):
    """A Template that tags each resource taking Tags as it is added."""

    def add_resource(self, resource):
        for one in resource if isinstance(resource, list) else [resource]:
            if "Tags" in one.props:
                one.Tags = TAGS
        return super().add_resource(resource)
