"""CORS: the preflight (OPTIONS, MOCK, no auth) on every API resource, the same headers on API
Gateway's own 4XX/5XX answers so browsers can read errors, and the rule that refuses `*` with
credentials. The handlers add the origin headers to their own responses (CORS_* variables)."""

from troposphere import Ref, Sub, Template, apigateway

from .naming import logical_id
from .openapi import request_headers
from .parameters import Params, refuse

ANY_ORIGIN_WITH_CREDENTIALS = "CorsAnyOriginWithoutCredentials"
# Every request header the API reads: always allowed by the preflight, whatever CorsAllowHeaders
# adds (a browser refuses to send a header the preflight does not list: If-Match on a write,
# Idempotency-Key on a POST).
API_HEADERS = ("Content-Type", *request_headers())


def _quoted(value: str) -> Sub | str:
    """A static header value, as API Gateway's parameter mappings want it: in single quotes."""
    return Sub(f"'{value}'") if "${" in value else f"'{value}'"


def response_headers(params: Params, prefix: str) -> dict[str, Sub | str]:
    """The headers every answer carries, keyed `<prefix>.Access-Control-...`."""
    return {
        f"{prefix}.Access-Control-Allow-Origin": _quoted(f"${{{params.cors_allow_origin.title}}}"),
        f"{prefix}.Access-Control-Allow-Credentials": _quoted(
            f"${{{params.cors_allow_credentials.title}}}"
        ),
    }


def preflight(
    t: Template,
    rest_api: apigateway.RestApi,
    resource_id: object,
    path: tuple[str, ...],
    methods: list[str],
    params: Params,
) -> apigateway.Method:
    """OPTIONS answered by API Gateway itself (MOCK): no Lambda runs, no auth applies."""
    headers = {
        **response_headers(params, "method.response.header"),
        "method.response.header.Access-Control-Allow-Methods": _quoted(
            ",".join([*sorted(methods), "OPTIONS"])
        ),
        "method.response.header.Access-Control-Allow-Headers": _quoted(
            ",".join(API_HEADERS) + f",${{{params.cors_allow_headers.title}}}"
        ),
        "method.response.header.Access-Control-Max-Age": _quoted(
            f"${{{params.cors_max_age.title}}}"
        ),
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
                    StatusCode="204", ResponseParameters=dict.fromkeys(headers, False)
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
    t: Template, rest_api: apigateway.RestApi, params: Params
) -> list[apigateway.GatewayResponse]:
    """API Gateway's own errors (throttled, unknown route, refused body...) carry the CORS
    headers."""
    return [
        t.add_resource(
            apigateway.GatewayResponse(
                logical_id("api", kind, "response"),
                RestApiId=Ref(rest_api),
                ResponseType=kind,
                ResponseParameters=response_headers(params, "gatewayresponse.header"),
                **(
                    {"ResponseTemplates": {"application/json": RESPONSE_BODIES[kind]}}
                    if kind in RESPONSE_BODIES
                    else {}
                ),
            )
        )
        for kind in ("DEFAULT_4XX", "DEFAULT_5XX", *RESPONSE_BODIES)
    ]


def add_rules(t: Template, params: Params) -> None:
    """Refused by CloudFormation itself, so a console edit meets the same refusal."""
    refuse(
        t,
        ANY_ORIGIN_WITH_CREDENTIALS,
        (params.cors_allow_origin, "*"),
        (params.cors_allow_credentials, "true"),
        why="CorsAllowOrigin * cannot be combined with CorsAllowCredentials true: browsers refuse "
        "it, and it would let any site act with a user's credentials. Name one origin instead.",
    )
