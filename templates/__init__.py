"""items-api's CloudFormation template: a composition root, one `add` per concern."""

from troposphere import Template

from . import (
    api,
    data,
    deployments,
    events,
    functions,
    log_groups,
    monitoring,
    outputs,
    parameters,
    permissions,
    security,
    tags,
)

DESCRIPTION = (
    "items-api: API Gateway REST API -> one Python Lambda per route -> DynamoDB. "
    "One template for every stage; the stage is a parameter file."
)


def build_template() -> Template:
    """Resources are added in dependency order: moto creates them in document order."""
    t = Template(Description=DESCRIPTION)
    t.set_version("2010-09-09")
    params = parameters.add(t)
    secure = security.add(t)
    table = data.add(t, params, secure.data_key)
    logs = log_groups.add(t, params, secure.telemetry_key)
    grants = permissions.add(t, table, secure, logs)
    fns = functions.add(t, params, table, secure, grants, logs)
    watch = monitoring.add(t, params, table, secure, fns)
    live = deployments.add(t, params, fns, watch)
    events.add(t, params, table, live.aliases)
    rest = api.add(t, params, live.aliases, logs)
    parameters.describe_edits(t, rest.redeploying)
    outputs.add(t, params, table, secure, fns, rest, watch)
    tags.add(t, params)
    return t
