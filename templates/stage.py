"""The stage a stack serves: one template for every stage, the stage a parameter."""

from troposphere import Equals, Template

from .parameters import choice

IS_PROD = "IsProd"  # condition: prod-only rules (no data trace, ...)

STAGE = choice(
    "Stage",
    group="Stage",
    label="Stage",
    description="Deployment stage. Names the API stage and is passed to the functions as STAGE.",
    allowed=("dev", "test", "prod"),
)
PARAMETERS = (STAGE,)


def add(t: Template) -> None:
    t.add_condition(IS_PROD, Equals(STAGE.ref(), "prod"))
