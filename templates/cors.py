"""CORS: the preflight (OPTIONS, MOCK, no auth) on every API resource, the same headers on API
Gateway's own 4XX/5XX answers so browsers can read errors, and the rule that refuses `*` with
credentials. The handlers add the origin headers to their own responses (CORS_* variables).

Access-Control-Allow-Credentials is sent only when CorsAllowCredentials is true: `true` is its
one valid value (Fetch's CORS check admits a credentialed request's answer only on `true` and
ignores the header otherwise), so `false` tells a browser nothing. Each map that names it (the
integration response's and the gateway response's mappings, and the method response's declared
headers) holds it under `Fn::If [CorsCredentials, ..., !Ref AWS::NoValue]`: CloudFormation
removes a map key whose value is AWS::NoValue ("Removes the corresponding resource property
when specified as a return value in the Fn::If intrinsic function", pseudo parameter reference:
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/pseudo-parameter-reference.html
#cfn-pseudo-param-novalue), so with credentials false the header is neither declared nor
mapped, and the deployed API never sends it. The handlers do the same (items_common.http)."""

from troposphere import Equals, If, Ref, Sub, Template, apigateway

from .naming import logical_id
from .openapi import request_headers
from .parameters import BOOLEAN, Param, choice, number, refuse

# The Rule that refuses CorsAllowOrigin * with CorsAllowCredentials true.
NO_CREDENTIALS_FOR_ANY_ORIGIN = "CorsAnyOriginWithoutCredentials"
# The condition under which Access-Control-Allow-Credentials exists at all.
CREDENTIALS = "CorsCredentials"
CREDENTIALS_HEADER = "Access-Control-Allow-Credentials"
# Every request header the API reads: always allowed by the preflight, whatever CorsAllowHeaders
# adds (a browser refuses to send a header the preflight does not list: If-Match on a write,
# Idempotency-Key on a POST).
API_HEADERS = ("Content-Type", *request_headers())

CORS_ALLOW_ORIGIN = Param(
    "CorsAllowOrigin",
    group="API",
    label="CORS allowed origin",
    description="Access-Control-Allow-Origin: * (any site) or one origin such as "
    "https://example.com. Never * with credentials (the stack refuses it).",
    default="*",
    pattern=r"^(\*|https?://[A-Za-z0-9.-]{1,50}(:[0-9]{1,5})?)$",
    constraint="must be * or an origin: http(s)://host[:port], no path, a host of at most 50 "
    "characters.",
)
CORS_ALLOW_HEADERS = Param(
    "CorsAllowHeaders",
    group="API",
    label="CORS allowed headers",
    description="Headers the preflight allows besides the API's own (Content-Type, If-Match, "
    "Idempotency-Key, always allowed): comma-separated header names.",
    default="X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token",
    pattern=r"^[A-Za-z0-9-]+(,[A-Za-z0-9-]+)*$",
    constraint="must be header names separated by commas, no spaces.",
)
CORS_MAX_AGE = number(
    "CorsMaxAge",
    group="API",
    label="CORS preflight max age (s)",
    description="Seconds a browser may cache a preflight answer.",
    low=0,
    high=86400,
    unit="seconds",
    default=300,
)
CORS_ALLOW_CREDENTIALS = choice(
    "CorsAllowCredentials",
    group="API",
    label="CORS allow credentials",
    description="true sends Access-Control-Allow-Credentials: true (cookies, auth headers). Only "
    "with a single origin: the stack refuses true with origin *.",
    allowed=BOOLEAN,
    default="false",
)
PARAMETERS = (CORS_ALLOW_ORIGIN, CORS_ALLOW_HEADERS, CORS_MAX_AGE, CORS_ALLOW_CREDENTIALS)


def _quoted(value: str) -> Sub | str:
    """A static header value, as API Gateway's parameter mappings want it: in single quotes."""
    return Sub(f"'{value}'") if "${" in value else f"'{value}'"


def only_with_credentials(value: object) -> If:
    """`value` when CorsAllowCredentials is true; otherwise the map key holding it is removed."""
    return If(CREDENTIALS, value, Ref("AWS::NoValue"))


def add_credentials_condition(t: Template) -> None:
    """The CorsCredentials condition (once per template)."""
    if CREDENTIALS not in t.conditions:
        t.add_condition(CREDENTIALS, Equals(CORS_ALLOW_CREDENTIALS.ref(), "true"))


def response_headers(prefix: str) -> dict[str, If | Sub | str]:
    """The headers every answer carries, keyed `<prefix>.Access-Control-...`: the origin, and
    `Access-Control-Allow-Credentials: true` only under the CorsCredentials condition."""
    return {
        f"{prefix}.Access-Control-Allow-Origin": _quoted(f"${{{CORS_ALLOW_ORIGIN.name}}}"),
        f"{prefix}.{CREDENTIALS_HEADER}": only_with_credentials("'true'"),
    }


def preflight(
    t: Template,
    rest_api: apigateway.RestApi,
    resource_id: object,
    path: tuple[str, ...],
    methods: list[str],
) -> apigateway.Method:
    """OPTIONS answered by API Gateway itself (MOCK): no Lambda runs, no auth applies."""
    add_credentials_condition(t)
    headers = {
        **response_headers("method.response.header"),
        "method.response.header.Access-Control-Allow-Methods": _quoted(
            ",".join([*sorted(methods), "OPTIONS"])
        ),
        "method.response.header.Access-Control-Allow-Headers": _quoted(
            ",".join(API_HEADERS) + f",${{{CORS_ALLOW_HEADERS.name}}}"
        ),
        "method.response.header.Access-Control-Max-Age": _quoted(f"${{{CORS_MAX_AGE.name}}}"),
    }
    return t.add_resource(
        apigateway.Method(
            logical_id("api", *path, "options"),
            RestApiId=Ref(rest_api),
            ResourceId=resource_id,
            HttpMethod="OPTIONS",
            AuthorizationType="NONE",
            Integration=apigateway.Integration(
                Type="MOCK",
                RequestTemplates={"application/json": '{"statusCode": 204}'},
                IntegrationResponses=[
                    apigateway.IntegrationResponse(
                        StatusCode="204",
                        ResponseParameters=headers,
                        ResponseTemplates={"application/json": ""},
                    )
                ],
            ),
            MethodResponses=[
                apigateway.MethodResponse(
                    StatusCode="204",
                    # Declared as the integration response maps it: the credentials header
                    # only under the same condition.
                    ResponseParameters={
                        k: only_with_credentials(False) if k.endswith(CREDENTIALS_HEADER) else False
                        for k in headers
                    },
                )
            ],
        )
    )


# API Gateway's own answers that get a JSON body in the handlers' error shape, beyond its default.
RESPONSE_BODIES = {
    # The request validator refused the body (items_common/item_schema.json).
    "BAD_REQUEST_BODY": '{"error":{"code":"INVALID_ITEM","message":$context.error.messageString,'
    '"details":"$util.escapeJavaScript($context.error.validationErrorString)"}}',
}


def gateway_responses(
    t: Template, rest_api: apigateway.RestApi
) -> list[apigateway.GatewayResponse]:
    """API Gateway's own errors (throttled, unknown route, refused body...) carry the CORS
    headers."""
    add_credentials_condition(t)
    return [
        t.add_resource(
            apigateway.GatewayResponse(
                logical_id("api", kind, "response"),
                RestApiId=Ref(rest_api),
                ResponseType=kind,
                ResponseParameters=response_headers("gatewayresponse.header"),
                **(
                    {"ResponseTemplates": {"application/json": RESPONSE_BODIES[kind]}}
                    if kind in RESPONSE_BODIES
                    else {}
                ),
            )
        )
        for kind in ("DEFAULT_4XX", "DEFAULT_5XX", *RESPONSE_BODIES)
    ]


def add_rules(t: Template) -> None:
    """Refused by CloudFormation itself, so a console edit meets the same refusal."""
    refuse(
        t,
        NO_CREDENTIALS_FOR_ANY_ORIGIN,
        (CORS_ALLOW_ORIGIN, "*"),
        (CORS_ALLOW_CREDENTIALS, "true"),
        why="CorsAllowOrigin * cannot be combined with CorsAllowCredentials true: browsers refuse "
        "it, and it would let any site act with a user's credentials. Name one origin instead.",
    )
