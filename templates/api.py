"""REST API: one method per catalog row, and the stage's deployment, which a custom resource
makes whenever the API's definition or one of its parameters changes
(templates/api_deployment.py). The stage serving it is templates/api_stage.py's."""

from dataclasses import dataclass

from troposphere import Equals, If, Ref, Sub, Template, apigateway, awslambda

from . import api_deployment, cors
from .catalog import COLLECTION, ROUTE_PREFIX, ROUTES, FunctionSpec
from .domain import EXECUTE_API_OFF
from .item_schema import ITEM_SCHEMA
from .log_groups import LogGroups
from .naming import logical_id
from .parameters import choice, refuse
from .stage import STAGE

API_KEY_AUTH = "ApiKeyAuth"  # condition: AuthType API_KEY
IAM_AUTH = "IamAuth"  # condition: AuthType AWS_IAM
PROD_NEEDS_AUTH = "ProdRequiresAuth"  # rule
BODY_METHODS = ("POST", "PUT")  # methods whose JSON body API Gateway checks against the model

AUTH_TYPE = choice(
    "AuthType",
    group="Access",
    label="API access control",
    description="Who may call the API. NONE: anyone (dev only; the stack refuses NONE in prod). "
    "API_KEY: callers send an x-api-key header; the key (ID in the ApiKeyId output, its value "
    "only from API Gateway) is limited by a usage plan with the stage's throttling and the quota "
    "below. AWS_IAM: callers sign requests with SigV4 and need execute-api:Invoke.",
    allowed=("NONE", "API_KEY", "AWS_IAM"),
    default="API_KEY",
)
PARAMETERS = (AUTH_TYPE,)


@dataclass(frozen=True)
class Api:
    rest_api: apigateway.RestApi
    methods: dict[str, apigateway.Method]  # function name -> its method
    deployment: api_deployment.ApiDeployment  # what the stage serves
    redeploying: set[str]  # parameters whose change deploys the API again


@dataclass(frozen=True)
class BodyCheck:
    """API Gateway's own check of request bodies, before any function runs."""

    validator: apigateway.RequestValidator
    model: apigateway.Model


def _sub_segment(segment: str, parameter: str) -> str:
    """A route segment in Sub syntax: the collection is the RoutePrefix parameter, and a
    `{name}` path parameter becomes `parameter` (`*` in ARNs, itself in resource paths)."""
    if segment == COLLECTION:
        return f"${{{ROUTE_PREFIX.name}}}"
    return parameter if segment.startswith("{") else segment


def source_arn(rest_api: apigateway.RestApi, spec: FunctionSpec) -> Sub:
    """execute-api ARN of exactly this route's method (any stage): path parameters become `*`."""
    path = "/".join(_sub_segment(s, "*") for s in spec.path)
    return Sub(
        "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
        f"${{{rest_api.title}}}/*/{spec.method}/{path}"
    )


def _resources(
    t: Template, rest_api: apigateway.RestApi
) -> dict[tuple[str, ...], apigateway.Resource]:
    """One apigateway.Resource per distinct path prefix (the root is the API's own)."""
    made: dict[tuple[str, ...], apigateway.Resource] = {}
    for f in ROUTES:
        for depth in range(1, len(f.path) + 1):
            path = f.path[:depth]
            if path not in made:
                made[path] = t.add_resource(
                    apigateway.Resource(
                        logical_id("api", *path, "resource"),
                        RestApiId=Ref(rest_api),
                        ParentId=_resource_id(rest_api, made, path[:-1]),
                        PathPart=ROUTE_PREFIX.ref() if path[-1] == COLLECTION else path[-1],
                    )
                )
    return made


def _resource_id(
    rest_api: apigateway.RestApi, made: dict[tuple[str, ...], apigateway.Resource], path: tuple
) -> object:
    return Ref(made[path]) if path else rest_api.get_att("RootResourceId")


def _path_parameters(spec: FunctionSpec) -> dict:
    """Declare the route's `{name}` segments as required path parameters."""
    names = [s[1:-1] for s in spec.path if s.startswith("{")]
    if not names:
        return {}
    return {"RequestParameters": {f"method.request.path.{n}": True for n in names}}


def cached(spec: FunctionSpec) -> bool:
    """Only GET /<prefix>/{id} is cached: its answer depends on the path alone (the versions
    route also reads limit and next_token, which the cache key would not see)."""
    return spec.method == "GET" and spec.path[-1:] == ("{id}",)


def _cache_keys(spec: FunctionSpec) -> dict:
    return {"CacheKeyParameters": ["method.request.path.id"]} if cached(spec) else {}


def _checked_body(spec: FunctionSpec, check: BodyCheck) -> dict:
    if spec.method not in BODY_METHODS:
        return {}
    return {
        "RequestValidatorId": Ref(check.validator),
        "RequestModels": {"application/json": Ref(check.model)},
    }


def _method(t, rest_api, resource_id, spec: FunctionSpec, alias: awslambda.Alias, check):
    return t.add_resource(
        apigateway.Method(
            logical_id(spec.name, "method"),
            RestApiId=Ref(rest_api),
            ResourceId=resource_id,
            HttpMethod=spec.method,
            AuthorizationType=If(IAM_AUTH, "AWS_IAM", "NONE"),
            ApiKeyRequired=If(API_KEY_AUTH, True, False),
            **_path_parameters(spec),
            **_checked_body(spec, check),
            Integration=apigateway.Integration(
                Type="AWS_PROXY",
                IntegrationHttpMethod="POST",
                **_cache_keys(spec),
                Uri=Sub(
                    "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/"
                    "functions/${Arn}/invocations",
                    Arn=Ref(alias),  # an alias's Ref is its ARN
                ),
            ),
        )
    )


def setting_path(spec: FunctionSpec) -> str:
    """A method setting's ResourcePath in Sub syntax: the route's path with every `/` written
    `~1`, after the leading `/` (`/items/{id}` is `/~1items~1{id}`). API Gateway stores a key
    that names no method without complaint, and it then configures nothing."""
    return "/" + "".join("~1" + _sub_segment(s, s) for s in spec.path)


def _access_control(t: Template) -> None:
    t.add_condition(API_KEY_AUTH, Equals(AUTH_TYPE.ref(), "API_KEY"))
    t.add_condition(IAM_AUTH, Equals(AUTH_TYPE.ref(), "AWS_IAM"))
    refuse(
        t,
        PROD_NEEDS_AUTH,
        (STAGE, "prod"),
        (AUTH_TYPE, "NONE"),
        why="AuthType NONE cannot be combined with Stage prod: anyone could read and change the "
        "production items. Use API_KEY or AWS_IAM.",
    )


def _body_check(t: Template, rest_api: apigateway.RestApi) -> BodyCheck:
    """One model from items_common/item_schema.json, the file the handlers check with too."""
    return BodyCheck(
        validator=t.add_resource(
            apigateway.RequestValidator(
                logical_id("api", "body", "validator"),
                RestApiId=Ref(rest_api),
                Name="body-and-parameters",
                ValidateRequestBody=True,
                ValidateRequestParameters=True,
            )
        ),
        model=t.add_resource(
            apigateway.Model(
                logical_id("item", "model"),
                RestApiId=Ref(rest_api),
                Name="Item",
                ContentType="application/json",
                Description=ITEM_SCHEMA["description"],
                Schema=ITEM_SCHEMA,
            )
        ),
    )


def add(t: Template, aliases: dict[str, awslambda.Alias], log_groups: LogGroups) -> Api:
    """Every route invokes its function's `live` alias, so CodeDeploy decides which version
    answers."""
    rest_api = t.add_resource(
        apigateway.RestApi(
            logical_id("api"),
            Name=Sub("${AWS::StackName}"),
            Description="items-api CRUD API",
            EndpointConfiguration=apigateway.EndpointConfiguration(Types=["REGIONAL"]),
            # A change needs a new deployment to take effect: the API's deployment carries it.
            DisableExecuteApiEndpoint=If(EXECUTE_API_OFF, True, False),
        )
    )
    _access_control(t)
    check = _body_check(t, rest_api)
    resources = _resources(t, rest_api)
    methods = {}
    for f in ROUTES:
        alias = aliases[f.name]
        resource_id = _resource_id(rest_api, resources, f.path)
        methods[f.name] = _method(t, rest_api, resource_id, f, alias, check)
        t.add_resource(
            awslambda.Permission(
                logical_id(f.name, "permission"),
                FunctionName=Ref(alias),
                Action="lambda:InvokeFunction",
                Principal="apigateway.amazonaws.com",
                SourceArn=source_arn(rest_api, f),
                SourceAccount=Ref("AWS::AccountId"),
            )
        )
    preflights = [
        cors.preflight(
            t,
            rest_api,
            _resource_id(rest_api, resources, path),
            path,
            [f.method for f in ROUTES if f.path == path],
        )
        for path in [(), *resources]
    ]
    cors.add_rules(t)
    responses = cors.gateway_responses(t, rest_api)
    # Everything a deployment snapshots, once all of it is built: it hashes it and waits for it.
    definition = [rest_api, check.validator, check.model, *resources.values(),
                  *methods.values(), *preflights, *responses]  # fmt: skip
    deployment = api_deployment.add(t, rest_api, log_groups, definition)
    return Api(
        rest_api=rest_api,
        methods=methods,
        deployment=deployment,
        redeploying=set(deployment.Parameters),
    )
