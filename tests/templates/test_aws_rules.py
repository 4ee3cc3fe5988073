"""Rules AWS enforces without telling us, each checked over the whole template with the page
that states it: version Descriptions within Lambda's 256 characters yet new with every change of
a function; stage method settings that name real methods; asynchronous-invocation settings on the
alias callers invoke; canary rollback alarms that judge the new version alone; and counts in the
console's descriptions derived from the function rows."""

import json
import re
from collections.abc import Iterator

import pytest

from templates.api import setting_path
from templates.catalog import COLLECTION, FUNCTIONS, ROUTES, FunctionSpec
from templates.deployments import LIVE, SEPARATOR
from templates.functions import code_key_parameter
from templates.monitoring import ALARMS_ON
from templates.naming import logical_id
from templates.parameters import MAX_ITEMS_KEY, REPLACING
from tests.cfn import ROOT, build_keys, parameter_values, references, resources_of_type
from tests.deployed import (
    LAYER,
    VERSION,
    Deployed,
    deploy,
    function_id,
    of_function,
    settings_record,
    version_description,
    versioned,
)
from tools.deploy import stage_params
from tools.deploy.stage_params import stage_values
from tools.intrinsics import Resolver, sub_args, sub_names, substitute

try:  # the regular-expression parser behind `re` (sre_parse before Python 3.11)
    import re._parser as sre
except ImportError:  # pragma: no cover
    import sre_parse as sre  # type: ignore[no-redef]

DESCRIPTION_LIMIT = 256  # characters Lambda allows in a Version's or a LayerVersion's Description
# What only AWS assigns, at its longest. A layer version number is a Long ("Version ... Type:
# Long", https://docs.aws.amazon.com/lambda/latest/api/API_PublishLayerVersion.html): 19 digits
# (a stream label's is tests/deployed.py's STREAM_LABELS).
LAYER_VERSION_DIGITS = len(str(2**63 - 1))


class Unbounded(ValueError):
    """A pattern that allows values of any length."""


# Longest values a pattern allows, from its parse tree


def _pick(items: list) -> str:
    """A character an `[...]` class allows."""
    if items and items[0][0] == sre.NEGATE:
        excluded = {av for op, av in items[1:] if op == sre.LITERAL}
        return next(c for c in "a0Z_" if ord(c) not in excluded)
    op, av = items[0]
    if op == sre.LITERAL:
        return chr(av)
    if op == sre.RANGE:
        return chr(av[0])
    return {"CATEGORY_DIGIT": "0", "CATEGORY_SPACE": " "}.get(str(av), "a")


def _longest(tree: object, cap: int | None) -> str:
    """The longest string the parsed pattern matches (repeats beyond `cap` are cut to `cap`;
    with no cap, an unbounded repeat raises Unbounded)."""
    out = []
    for op, av in tree:
        if op == sre.LITERAL:
            out.append(chr(av))
        elif op == sre.NOT_LITERAL:
            out.append("b" if chr(av) == "a" else "a")
        elif op == sre.ANY:
            out.append("a")
        elif op == sre.IN:
            out.append(_pick(av))
        elif op == sre.BRANCH:
            out.append(max((_longest(alt, cap) for alt in av[1]), key=len))
        elif op == sre.SUBPATTERN:
            out.append(_longest(av[-1], cap))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            low, high, item = av
            if high == sre.MAXREPEAT:
                if cap is None:
                    raise Unbounded(tree)
                high = max(low, cap)
            out.append(_longest(item, cap) * high)
        elif op != sre.AT:
            raise NotImplementedError(op)
    return "".join(out)


def longest(pattern: str, cap: int | None = None) -> str:
    return _longest(sre.parse(pattern), cap)


def value_width(template: dict, name: str) -> int:
    """The most characters parameter `name` can put into a Description, from its own
    constraints: AllowedValues, a Number's MaxValue, the longest match of AllowedPattern (or its
    MaxLength), a list's item count from the template's Metadata."""
    spec = template["Parameters"][name]
    if "AllowedValues" in spec:
        return max(len(str(v)) for v in spec["AllowedValues"])
    if spec["Type"] == "Number":
        assert int(spec["MinValue"]) >= 0, name  # whole numbers, no sign
        return len(str(int(spec["MaxValue"])))
    width = len(longest(spec["AllowedPattern"]))
    width = min(width, int(spec.get("MaxLength", width)))
    if spec["Type"] == "CommaDelimitedList":
        most = template["Metadata"][MAX_ITEMS_KEY][name]
        return most * width + most - 1
    return width


# The longest Description any allowed values give


def width(template: dict, node: object) -> int:
    """The most characters `node` can resolve to: parameters by their constraints, what AWS
    assigns at its longest, Fn::If by its longer branch."""
    if isinstance(node, str):
        return len(node)
    ((fn, args),) = node.items()
    if fn == "Ref" and args in template["Parameters"]:
        return value_width(template, args)
    if fn == "Fn::If":
        return max(width(template, args[1]), width(template, args[2]))
    if fn == "Fn::Join" and args[0] == "," and isinstance(args[1], dict) and "Ref" in args[1]:
        return value_width(template, args[1]["Ref"])  # a list, joined by commas as typed
    if fn == "Fn::Sub":
        text, local = sub_args(args)
        literal = len(substitute(text, lambda _: ""))
        return literal + sum(
            width(template, local[n]) if n in local else value_width(template, n)
            for n in sub_names(text)
        )
    return len(str(_longest_case(template).resolve(node)))


def _longest_case(template: dict) -> Deployed:
    """Every parameter at its longest allowed value; layers at a 19-digit version number."""
    values = {}
    for name, spec in template["Parameters"].items():
        if "AllowedValues" in spec:
            values[name] = max((str(v) for v in spec["AllowedValues"]), key=len)
        elif spec["Type"] == "Number":
            values[name] = str(spec["MaxValue"])
        else:
            values[name] = longest(spec["AllowedPattern"], cap=1)
    deployed = Deployed(template, values)
    deployed.generations = {rid: 10 ** (LAYER_VERSION_DIGITS - 1)
                            for rid in resources_of_type(template, LAYER)}  # fmt: skip
    return deployed


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s.name)
def test_no_allowed_values_make_a_version_description_longer_than_lambda_allows(template, spec):
    """AWS::Lambda::Version's Description holds at most 256 characters ("Maximum: 256",
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-lambda-version.html);
    a longer one fails the stack update. The bound is computed from the parameters' own
    constraints, so a loosened one fails here, not in a deploy."""
    _, version = of_function(template, VERSION, spec)
    longest_description = width(template, version["Properties"]["Description"])
    assert longest_description <= DESCRIPTION_LIMIT, (spec.name, longest_description)


def test_no_allowed_values_make_the_settings_record_longer_than_lambda_allows(template):
    """A LayerVersion's Description holds at most 256 characters too (PublishLayerVersion,
    https://docs.aws.amazon.com/lambda/latest/api/API_PublishLayerVersion.html)."""
    record = template["Resources"][settings_record(template)]["Properties"]["Description"]
    assert width(template, record) <= DESCRIPTION_LIMIT, width(template, record)


# Every change of a function, and nothing else, changes its version's Description


VPC = {"VpcSubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
       "VpcSecurityGroupIds": "sg-0123456789abcdef0"}  # fmt: skip
BASES = {"prod": {}, "prod in a VPC": VPC}


def _base(template: dict, base: str) -> dict[str, str]:
    """Every parameter's value: prod's stage file, the build's keys, the defaults."""
    values = {**stage_values(template, "prod"), **build_keys(), "ArtifactBucket": "artifacts",
              **BASES[base]}  # fmt: skip
    return parameter_values(template, values)


def other_value(template: dict, name: str, value: str) -> str | None:
    """Another value parameter `name` allows (None when it allows only one)."""
    spec = template["Parameters"][name]
    if "AllowedValues" in spec:
        return next((str(v) for v in spec["AllowedValues"] if str(v) != value), None)
    if spec["Type"] == "Number":
        number = int(value)
        return str(number + 1 if number + 1 <= int(spec["MaxValue"]) else number - 1)
    most = template.get("Metadata", {}).get(MAX_ITEMS_KEY, {}).get(name)
    for candidate in (longest(spec["AllowedPattern"], cap=3), value[:-1] + "0", value + "a"):
        if candidate != value and not stage_params.check_value(name, spec, candidate, most):
            return candidate
    return None


def _changes(template: dict, base: str) -> Iterator[tuple[str, dict, dict]]:
    before = _base(template, base)
    for name in template["Parameters"]:
        other = other_value(template, name, before.get(name, ""))
        if other is not None:
            yield name, before, {**before, name: other}


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s.name)
def test_a_version_is_published_exactly_when_its_function_changes(template, spec, base):
    """A Version is published only when CloudFormation replaces it, which a new Description
    does ("Update requires: Replacement",
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-lambda-version.html),
    and Lambda publishes nothing for a function that did not change ("doesn't publish a version
    if the function's configuration and code haven't changed since the last version",
    https://docs.aws.amazon.com/lambda/latest/api/API_PublishVersion.html). So for every
    parameter, a new value must change the Description exactly when it changes the function as
    a version captures it, directly or by replacing what the function names (a layer, the
    table), and the layer version and stream label AWS then assigns."""
    wrong = []
    for name, before, after in _changes(template, base):
        old, new = Deployed(template, before), deploy(template, before, after)
        function_changed = versioned(template, spec, old) != versioned(template, spec, new)
        described = version_description(template, spec, old) != version_description(
            template, spec, new
        )
        if function_changed != described:
            wrong.append((name, after[name], f"function changed: {function_changed}"))
    assert not wrong


def test_every_changing_input_of_a_function_is_tried(template):
    """The test above tries every parameter that reaches a function, the code keys included."""
    tried = {name for name, _, _ in _changes(template, "prod in a VPC")}
    fn = template["Resources"][function_id(FUNCTIONS[0])]["Properties"]
    assert set(references(fn)) & set(template["Parameters"]) <= tried
    assert {code_key_parameter(f.name) for f in FUNCTIONS} | REPLACING <= tried


@pytest.mark.parametrize(
    "key",
    [
        "artifacts/get_item-{sha}.zip",  # the build's key
        "items-api/dist/artifacts/get_item-{sha}.zip",  # taskcat's (the project under dist/)
        "artifacts.get_item-/dist/artifacts/get_item-{sha}.zip",  # a prefix like the stem
    ],
)
def test_a_code_keys_sha256_is_read_whole_from_any_key_the_pattern_allows(template, key):
    """The Description keeps only the sha256 of a code key: content-addressed, it is what the
    code is. That holds only if the parameter allows nothing else to vary."""
    sha = "0123456789abcdef" * 4
    name = code_key_parameter("get_item")
    spec = template["Parameters"][name]
    assert stage_params.check_value(name, spec, key.format(sha=sha)) is None
    values = {**_base(template, "prod"), name: key.format(sha=sha)}
    [spec_row] = [f for f in FUNCTIONS if f.name == "get_item"]
    assert version_description(template, spec_row, Deployed(template, values)).startswith(
        f"{sha}{SEPARATOR}"
    )


@pytest.mark.parametrize(
    "key", ["artifacts/get_item-0123.zip", "artifacts/x/get_item-" + "0" * 64 + ".zip",
            "artifacts/health-" + "0" * 64 + ".zip", "get_item.zip"],
)  # fmt: skip
def test_a_code_key_the_build_would_not_make_is_refused(template, key):
    """Another shape could vary outside the sha256 the Description keeps (and name no zip the
    build made): refused by CloudFormation's pattern and by the build's params check alike."""
    name = code_key_parameter("get_item")
    assert stage_params.check_value(name, template["Parameters"][name], key) is not None


def _inputs_of_descriptions(template: dict) -> set[str]:
    record = template["Resources"][settings_record(template)]["Properties"]["Description"]
    inputs = set(references(record))
    for spec in FUNCTIONS:
        _, version = of_function(template, VERSION, spec)
        inputs |= set(references(version["Properties"]["Description"]))
    return inputs & set(template["Parameters"])


def test_no_value_in_a_description_can_hold_the_separator(template):
    """Values joined by `|` give one text per set of values only if no value can contain it."""
    for name in sorted(_inputs_of_descriptions(template)):
        spec = template["Parameters"][name]
        assert not [v for v in spec.get("AllowedValues", []) if SEPARATOR in str(v)], name
        if "AllowedPattern" in spec:
            sample = longest(spec["AllowedPattern"], cap=3)
            for probe in (f"{sample}|", f"|{sample}", f"{sample[:1]}|{sample[1:]}"):
                assert not re.fullmatch(spec["AllowedPattern"], probe), (name, probe)


@pytest.mark.parametrize("name", ["VpcSubnetIds", "VpcSecurityGroupIds"])
def test_a_list_beyond_its_item_bound_is_refused_before_any_aws_call(template, name, tmp_path):
    """CloudFormation cannot count a list's items (a pattern applies to each item), so the
    build's params check does; Lambda's own limits are 16 subnets and 5 security groups
    (https://docs.aws.amazon.com/lambda/latest/api/API_VpcConfig.html), ours lower."""
    most = template["Metadata"][MAX_ITEMS_KEY][name]
    prefix = "subnet" if name == "VpcSubnetIds" else "sg"
    ids = [f"{prefix}-{i:017x}" for i in range(most + 1)]
    assert most < {"VpcSubnetIds": 16, "VpcSecurityGroupIds": 5}[name]
    path = tmp_path / "dev.json"
    stage = json.loads((ROOT / "params" / "dev.json").read_text())
    other = "VpcSecurityGroupIds" if name == "VpcSubnetIds" else "VpcSubnetIds"
    other_prefix = "sg" if prefix == "subnet" else "subnet"
    stage.update({name: ",".join(ids[:most]), other: f"{other_prefix}-{0:017x}"})
    path.write_text(json.dumps(stage))
    stage_params.validate(path, template)  # at the bound: accepted
    path.write_text(json.dumps({**stage, name: ",".join(ids)}))
    with pytest.raises(stage_params.ParamsError, match=f"{name}: .* at most {most}"):
        stage_params.validate(path, template)


# Stage method settings name real methods


def _api_paths(template: dict, deployed: Deployed) -> dict[str, str]:
    """API resource logical ID -> its full path (`/items/{id}`), `""` for the root."""
    paths: dict[str, str] = {}
    resources = resources_of_type(template, "AWS::ApiGateway::Resource")
    while len(paths) < len(resources):
        for rid, r in resources.items():
            parent = r["Properties"]["ParentId"]
            base = "" if "Fn::GetAtt" in parent else paths.get(parent["Ref"])
            if base is not None and rid not in paths:
                paths[rid] = f"{base}/{deployed.resolve(r['Properties']['PathPart'])}"
    return paths


def _methods(template: dict, deployed: Deployed) -> set[tuple[str, str]]:
    """(HTTP method, full path) of every method of the API."""
    paths = _api_paths(template, deployed)
    found = set()
    for m in resources_of_type(template, "AWS::ApiGateway::Method").values():
        where = m["Properties"]["ResourceId"]
        path = "/" if "Fn::GetAtt" in where else paths[where["Ref"]]
        found.add((m["Properties"]["HttpMethod"], path))
    return found


@pytest.mark.parametrize("prefix", ["items", "data"])
def test_every_method_setting_names_a_method_of_the_api(template, prefix):
    """A MethodSetting's ResourcePath is the method's path with each `/` encoded `~1`, after
    the leading `/`: `/resource/subresource` is `/~1resource~1subresource`
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-apigateway-stage-methodsetting.html).
    API Gateway stores a key that matches no method without complaint, and then applies it to
    nothing: the GET-by-id cache and throttling would silently not exist."""
    deployed = Deployed(template, {**stage_values(template, "test"), "RoutePrefix": prefix})
    [stage] = resources_of_type(template, "AWS::ApiGateway::Stage").values()
    settings = deployed.resolve(stage["Properties"]["MethodSettings"])
    methods = _methods(template, deployed)
    specific = [s for s in settings if s["ResourcePath"] != "/*"]
    assert specific  # the cached GET by id
    for s in specific:
        assert s["ResourcePath"].startswith("/~1"), s["ResourcePath"]
        decoded = s["ResourcePath"][1:].replace("~1", "/")
        assert (s["HttpMethod"], decoded) in methods, (s["HttpMethod"], decoded)
    assert (("GET", f"/{prefix}/{{id}}") in {(s["HttpMethod"], s["ResourcePath"][1:]
            .replace("~1", "/")) for s in specific})  # fmt: skip


@pytest.mark.parametrize("spec", ROUTES, ids=lambda s: s.name)
def test_every_routes_setting_path_is_its_path_encoded(spec):
    """Any route a method setting may name later (not only today's cached one) is encoded from
    the root."""
    encoded = setting_path(spec)
    route = "/".join("${RoutePrefix}" if s == COLLECTION else s for s in spec.path)
    assert encoded[1:].replace("~1", "/") == ("/" + route if spec.path else "")


# Asynchronous invocations: the settings are on the alias every caller invokes


def _invoked_aliases(template: dict) -> set[str]:
    """The logical IDs the methods, permissions and stream mapping invoke."""
    invoked = set()
    for m in resources_of_type(template, "AWS::ApiGateway::Method").values():
        uri = m["Properties"].get("Integration", {}).get("Uri")
        if uri:
            invoked.add(uri["Fn::Sub"][1]["Arn"]["Ref"])
    for type_ in ("AWS::Lambda::Permission", "AWS::Lambda::EventSourceMapping"):
        invoked |= {r["Properties"]["FunctionName"]["Ref"]
                    for r in resources_of_type(template, type_).values()}  # fmt: skip
    return invoked


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s.name)
def test_async_retries_are_set_on_the_alias_callers_invoke(template, spec):
    """An EventInvokeConfig applies to the one version or alias its Qualifier names
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-lambda-eventinvokeconfig.html):
    one on $LATEST governs no caller when every caller invokes the `live` alias."""
    alias_id, alias = of_function(template, "AWS::Lambda::Alias", spec)
    assert alias_id in _invoked_aliases(template)  # by its route, or its stream mapping
    config_id, config = of_function(template, "AWS::Lambda::EventInvokeConfig", spec)
    assert config_id == logical_id(spec.name, "invoke", "config")
    assert config["Properties"]["Qualifier"] == alias["Properties"]["Name"] == LIVE
    assert config["Properties"]["MaximumRetryAttempts"] == {"Ref": "AsyncRetryAttempts"}
    assert alias_id in config["DependsOn"]  # the qualifier is a name, not a reference
    order = list(template["Resources"])
    assert order.index(alias_id) < order.index(config_id)  # moto creates in document order


def test_every_alias_that_is_invoked_is_a_live_alias_with_async_settings(template):
    """One EventInvokeConfig per function, on exactly the alias its callers invoke."""
    aliases = resources_of_type(template, "AWS::Lambda::Alias")
    assert _invoked_aliases(template) == set(aliases)
    qualified = {
        (c["Properties"]["FunctionName"]["Ref"], c["Properties"]["Qualifier"])
        for c in resources_of_type(template, "AWS::Lambda::EventInvokeConfig").values()
    }
    assert qualified == {(a["Properties"]["FunctionName"]["Ref"], a["Properties"]["Name"])
                         for a in aliases.values()}  # fmt: skip


# Canary rollback alarms judge the new version alone


def _group_id(template: dict, spec: FunctionSpec) -> str:
    """The deployment group the function's alias updates through."""
    _, alias = of_function(template, "AWS::Lambda::Alias", spec)
    return alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]["DeploymentGroupName"]["Ref"]


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s.name)
def test_rollback_alarms_watch_the_new_version_alone(template, spec):
    """Lambda's metrics of invocations through an alias carry the version that ran: dimensions
    FunctionName, Resource (`<function>:<alias>`) and ExecutedVersion, "to compare error rates
    for two versions of a function that are both targets of a weighted alias"
    (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-view.html). An alarm on the
    function's errors counts both versions during a canary; the group must roll back on the new
    version's own errors and duration: the current Version resource's number, and no other
    function's."""
    version_id, _ = of_function(template, VERSION, spec)
    resolver = Resolver(template, {**stage_values(template, "prod"), "AlarmsEnabled": "true"})
    configured = resolver.resource(_group_id(template, spec))["Properties"]["AlarmConfiguration"]
    assert configured["Enabled"] is True
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm")
    watched = set()
    for rid in (a["Name"]["Ref"] for a in configured["Alarms"]):
        props = alarms[rid]["Properties"]
        assert alarms[rid]["Condition"] == ALARMS_ON
        assert props["Dimensions"] == [
            {"Name": "FunctionName", "Value": {"Ref": function_id(spec)}},
            {"Name": "Resource", "Value": {"Fn::Sub": f"${{{function_id(spec)}}}:{LIVE}"}},
            {"Name": "ExecutedVersion", "Value": {"Fn::GetAtt": [version_id, "Version"]}},
        ]
        named = set(references(props)) & set(template["Resources"])
        assert named == {function_id(spec), version_id, *references(props["AlarmActions"])}
        watched.add(props["MetricName"])
    assert watched == {"Errors", "Duration"}


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s.name)
def test_without_alarms_no_rollback_alarm_exists_and_no_group_names_one(template, spec):
    """AlarmsEnabled false creates no alarm, so nothing may name one: no group, no alarm
    left on a version. The group says `Enabled: false` rather than leaving the configuration
    out: CodeDeploy keeps the alarms of a configuration an update leaves out, alarms that then
    no longer exist (https://github.com/aws/aws-cdk/issues/23307,
    https://github.com/aws/serverless-application-model/issues/2452)."""
    deployed = Resolver(template, {**stage_values(template, "prod"), "AlarmsEnabled": "false"})
    group = deployed.resource(_group_id(template, spec))["Properties"]
    assert group["AlarmConfiguration"] == {"Enabled": False}
    version_id, _ = of_function(template, VERSION, spec)
    for rid, alarm in resources_of_type(template, "AWS::CloudWatch::Alarm").items():
        if version_id in set(references(alarm)):
            assert deployed.resource(rid) is None, rid


# Counts the console shows come from the function rows


def test_every_function_count_in_a_parameter_description_is_the_templates(template):
    """The console's descriptions name the number of functions (ReservedConcurrency multiplies
    by it): it must be the template's, derived from the rows, not a number written once. The
    API deployment's function reserves nothing, so it is not counted."""
    functions = len([f for f in resources_of_type(template, "AWS::Lambda::Function").values()
                     if "ReservedConcurrentExecutions" in f["Properties"]])  # fmt: skip
    counts = [(name, int(n)) for name, spec in template["Parameters"].items()
              for n in re.findall(r"\b(\d+) functions\b", spec["Description"])]  # fmt: skip
    assert ("ReservedConcurrency", functions) in counts
    assert {n for _, n in counts} == {functions} == {len(FUNCTIONS)}
