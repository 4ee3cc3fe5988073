"""items-api's CloudFormation template: a composition root, one `add` per concern."""

from troposphere import Template

from . import (
    api,
    api_stage,
    catalog,
    cors,
    dashboard,
    data,
    deployments,
    domain,
    events,
    functions,
    log_groups,
    monitoring,
    network,
    outputs,
    parameters,
    permissions,
    security,
    stage,
    tags,
    waf,
)

DESCRIPTION = (
    "items-api: API Gateway REST API -> one Python Lambda per route -> DynamoDB. "
    "One template for every stage; the stage is a parameter file."
)
# The console's parameter groups, in the order it shows them (the template's and
# docs/parameters.md's order too); in a group, the parameters come as the modules declare them.
GROUPS = ("Stage", "Artifacts", "Tags", "Functions", "API", "Table", "Stream", "Alarms",
          "Access", "Domain", "Network")  # fmt: skip
# Every module's parameters (parameters.supplier reads them too).
PARAMETERS = parameters.grouped(
    GROUPS,
    stage.PARAMETERS,
    tags.PARAMETERS,
    network.PARAMETERS,
    data.PARAMETERS,
    functions.PARAMETERS,
    log_groups.PARAMETERS,
    monitoring.PARAMETERS,
    deployments.PARAMETERS,
    events.PARAMETERS,
    catalog.PARAMETERS,
    cors.PARAMETERS,
    api.PARAMETERS,
    api_stage.PARAMETERS,
    waf.PARAMETERS,
    domain.PARAMETERS,
)


def build_template() -> Template:
    """One `add` per concern; each returns what the later ones use."""
    t = tags.TaggedTemplate(Description=DESCRIPTION)
    t.set_version("2010-09-09")
    parameters.add(t, PARAMETERS)
    stage.add(t)
    network.add(t)
    domain.add_conditions(t)
    roles_and_keys = security.add(t)
    stores = data.add(t, roles_and_keys.data_key)
    logs = log_groups.add(t, roles_and_keys.telemetry_key)
    role_policies = permissions.add(t, stores, roles_and_keys, logs)
    fns = functions.add(t, stores, roles_and_keys, role_policies, logs)
    alarms = monitoring.add(t, stores, roles_and_keys, fns)
    board = dashboard.add(t, fns)
    versions_and_aliases = deployments.add(t, fns, alarms)
    events.add(t, stores, versions_and_aliases.aliases)
    rest_api = api.add(t, versions_and_aliases.aliases, logs)
    served_by = api_stage.add(t, rest_api, logs)
    waf.add(t, rest_api.rest_api, served_by.stage, logs)
    custom_domain = domain.add(t, rest_api.rest_api, served_by.stage)
    parameters.describe_edits(t, rest_api.redeploying)
    outputs.add(t, stores, roles_and_keys, fns, rest_api, served_by, custom_domain, alarms, board)
    return t
