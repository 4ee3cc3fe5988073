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
    """One `add` per concern; each returns what the later ones use."""
    t = Template(Description=DESCRIPTION)
    t.set_version("2010-09-09")
    params = parameters.add(t)
    roles_and_keys = security.add(t)
    stores = data.add(t, params, roles_and_keys.data_key)
    logs = log_groups.add(t, params, roles_and_keys.telemetry_key)
    role_policies = permissions.add(t, stores, roles_and_keys, logs)
    fns = functions.add(t, params, stores, roles_and_keys, role_policies, logs)
    alarms_and_dashboard = monitoring.add(t, params, stores, roles_and_keys, fns)
    versions_and_aliases = deployments.add(t, params, fns, alarms_and_dashboard)
    events.add(t, params, stores, versions_and_aliases.aliases)
    rest_api = api.add(t, params, versions_and_aliases.aliases, logs)
    parameters.describe_edits(t, rest_api.redeploying)
    outputs.add(t, params, stores, roles_and_keys, fns, rest_api, alarms_and_dashboard)
    tags.add(t, params)
    return t
