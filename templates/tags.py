"""Tags on every resource that takes them, from one place, so no resource is forgotten.

Run last: it tags whatever the other concerns added. Environment is the stage; ManagedBy says
CloudFormation owns the resource (edit the stack, not the resource)."""

from troposphere import Ref, Tags, Template

from .parameters import Params

MANAGED_BY = "CloudFormation"


def add(t: Template, params: Params) -> int:
    """Tag every taggable resource; returns how many were tagged."""
    tags = Tags(
        Project=Ref(params.project),
        Environment=Ref(params.stage),
        Owner=Ref(params.owner),
        CostCenter=Ref(params.cost_center),
        ManagedBy=MANAGED_BY,
    )
    taggable = [r for r in t.resources.values() if "Tags" in r.props]
    for resource in taggable:
        resource.Tags = tags
    return len(taggable)
