"""The functions' network: outside any VPC, or in the stage's subnets and security groups."""

from troposphere import Equals, Join, Not, Template

from .parameters import Param

IN_VPC = "InVpc"  # condition: VpcSubnetIds is set, so the functions run in those subnets


def _ids(name: str, label: str, description: str, prefix: str, most: int) -> Param:
    """An optional comma-separated list of at most `most` AWS ids (`subnet-...`); empty means
    none. CloudFormation checks the pattern on each item; the count is the build's (Param.most)."""
    return Param(
        name,
        group="Network",
        label=label,
        description=f"{description} At most {most}.",
        default="",
        type="CommaDelimitedList",
        pattern=rf"^({prefix}-[0-9a-f]{{8,17}})?$",
        constraint=f"must be empty or at most {most} {prefix}-... ids separated by commas.",
        most=most,
    )


# Lambda takes up to 16 subnets and 5 security groups (API_VpcConfig); these bounds keep the
# functions' settings within a version record (templates/deployments.py): three subnets cover
# three Availability Zones.
VPC_SUBNET_IDS = _ids(
    "VpcSubnetIds",
    "VPC subnets (optional)",
    "Empty: the functions run outside any VPC (they only call AWS APIs). Subnet ids: every "
    "function runs in them, with the security groups below; the subnets then need a route to "
    "DynamoDB, S3, SQS and X-Ray (NAT or VPC endpoints).",
    "subnet",
    3,
)
VPC_SECURITY_GROUP_IDS = _ids(
    "VpcSecurityGroupIds",
    "VPC security groups (optional)",
    "Security groups of the functions when VpcSubnetIds is set (both or neither).",
    "sg",
    2,
)
PARAMETERS = (VPC_SUBNET_IDS, VPC_SECURITY_GROUP_IDS)


def add(t: Template) -> None:
    t.add_condition(IN_VPC, Not(Equals(Join("", VPC_SUBNET_IDS.ref()), "")))
