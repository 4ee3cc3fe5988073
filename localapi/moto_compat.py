"""Gaps of moto's CloudFormation that our valid template runs into, patched wherever we run
moto: the tests and `make local` (never the product in AWS).

- AWS::ApiGateway::Method: moto reads Integration.IntegrationHttpMethod and Integration.Uri
  unconditionally, but a MOCK integration (our CORS preflights) has neither.
- AWS::KMS::Key: moto passes the CloudFormation Tags ({Key, Value}) to its KMS API, which
  wants {TagKey, TagValue}, and fails with KeyError on a tagged key; and it keeps the KeyPolicy
  as an object, which its KMS API then fails to parse (500 on DescribeKey, ScheduleKeyDeletion).
- AWS::Lambda::LayerVersion and AWS::Lambda::Version: moto gives neither a physical ID, so a
  Ref answers an object instead of the ARN (a Version's Description splits the layer's ARN),
  and a Version has no GetAtt Version (an alias's FunctionVersion). Both get them here.
- AWS::Lambda::Alias: moto's CloudFormation skips it, so Refs to the `live` alias (the API's
  integration and permission, the stream mapping) would be None. It is registered here, made
  in moto's Lambda as CreateAlias makes it. CodeDeploy (the alias's UpdatePolicy) stays
  skipped: moto creates no deployment application or group, and never shifts traffic.

- DeletionPolicy RetainExceptOnCreate: moto keeps only resources marked `Retain` when a stack
  is deleted, and deletes these. In CloudFormation they are deleted only when the create that
  made them rolls back; a completed stack's delete keeps them (`make destroy` lists them).
  `_retain_except_on_create` makes moto's delete keep them too.

- A CommaDelimitedList parameter given a value: moto keeps it as a Python list and
  DescribeStacks shows that list's repr (`['']` for an empty one), where CloudFormation shows
  the text given (``). `make deploy` passes every parameter, so the drift check and the
  no-op deploy would see a change that is not there. `_list_parameters_as_text` answers the
  text.

- DynamoDB streams with an event source mapping: moto delivers each record to the function itself,
  through Docker (absent here), and then drops the stream's records. `make local` runs the
  mappings itself (localapi.streams), so detach_stream_mappings switches moto's delivery off.
- Lambda GetAccountSettings (`make preflight`'s concurrency check): moto has neither the route
  nor an answer. It answers here: AccountLimit.ConcurrentExecutions 1000 (or moto's own
  MOTO_LAMBDA_CONCURRENCY_QUOTA, which its PutFunctionConcurrency enforces) and
  UnreservedConcurrentExecutions = that minus every function's reserved concurrency. moto's API
  Gateway has GetAccount/UpdateAccount already, with no CloudWatch role set, as in a new account.

`python -m localapi.moto_compat -H 127.0.0.1 -p PORT` runs moto_server with the patches applied."""

import contextlib
import copy
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from moto.apigateway import models
from moto.awslambda import models as lambda_models
from moto.awslambda.exceptions import UnknownFunctionException
from moto.awslambda.utils import get_backend
from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel
from moto.kms import models as kms_models


def _mock_integration(properties: dict) -> None:
    integration = properties.get("Integration", {})
    if integration.get("Type") == "MOCK":
        integration.setdefault("IntegrationHttpMethod", "POST")
        integration.setdefault("Uri", "")


def _kms_key(properties: dict) -> None:
    properties["Tags"] = [
        {"TagKey": t["Key"], "TagValue": t["Value"]} for t in properties.get("Tags", [])
    ]
    if isinstance(properties.get("KeyPolicy"), dict):
        properties["KeyPolicy"] = json.dumps(properties["KeyPolicy"])


def _patch(model: type, fix) -> None:
    """Run `fix` on a copy of the resource's Properties before moto creates it."""
    if getattr(model, "_items_api_patched", False):
        return
    original = model.create_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        cloudformation_json = copy.deepcopy(cloudformation_json)
        fix(cloudformation_json["Properties"])
        return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    model.create_from_cloudformation_json = classmethod(create)
    model._items_api_patched = True


def _layer_version_ids() -> None:
    """A LayerVersion's Ref is its ARN, as in CloudFormation."""
    lambda_models.LayerVersion.physical_resource_id = property(lambda self: self.arn)


def _version_ids() -> None:
    """A Version's Ref is its qualified ARN and GetAtt Version its number."""
    model = lambda_models.LambdaVersion
    original = model.create_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        version = original(cls, resource_name, cloudformation_json, account_id, region_name)
        function = cloudformation_json["Properties"]["FunctionName"]
        backend = get_backend(account_id, region_name)
        version.arn = backend.get_function(function, str(version.version)).function_arn
        return version

    def attribute(self, name: str) -> str:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if name == "Version":
            return str(self.version)
        if name == "FunctionArn":
            return self.arn
        raise UnformattedGetAttTemplateException()

    model.create_from_cloudformation_json = classmethod(create)
    model.physical_resource_id = property(lambda self: self.arn)
    model.get_cfn_attribute = attribute
    model.has_cfn_attr = classmethod(lambda cls, name: name in ("Version", "FunctionArn"))


class LambdaAliasModel(CloudFormationModel):
    """AWS::Lambda::Alias in moto's CloudFormation: the alias in moto's Lambda."""

    # moto files each model under the service its module names (moto.<service>...); run as
    # __main__ (moto_server), this module would name none.
    __module__ = "moto.awslambda.items_api_compat"

    def __init__(self, alias: Any, function_name: str) -> None:
        self.alias, self.function_name = alias, function_name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::Alias"

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "AliasArn"

    @property
    def physical_resource_id(self) -> str:
        return self.alias.arn

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.alias.arn

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ) -> "LambdaAliasModel":
        return cls._put(cloudformation_json, account_id, region_name, "create_alias")

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ) -> "LambdaAliasModel":
        return cls._put(cloudformation_json, account_id, region_name, "update_alias")

    @classmethod
    def _put(cls, cloudformation_json: dict, account_id: str, region_name: str, how: str):
        props = cloudformation_json["Properties"]
        alias = getattr(get_backend(account_id, region_name), how)(
            name=props["Name"],
            function_name=props["FunctionName"],
            function_version=str(props["FunctionVersion"]),
            description=props.get("Description", ""),
            routing_config=props.get("RoutingConfig"),
        )
        return cls(alias, props["FunctionName"])

    def delete(self, account_id: str, region_name: str) -> None:
        """Lambda deletes a function's aliases with it: one deleted first has none left."""
        with contextlib.suppress(UnknownFunctionException):
            get_backend(account_id, region_name).delete_alias(self.alias.name, self.function_name)


def _lambda_versions_and_aliases() -> None:
    if getattr(lambda_models.LambdaVersion, "_items_api_patched", False):
        return
    _layer_version_ids()
    _version_ids()
    # moto lists its CloudFormation models once (cached): list them again, with the alias.
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
    lambda_models.LambdaVersion._items_api_patched = True


def _retain_except_on_create() -> None:
    """A stack delete keeps RetainExceptOnCreate resources as it keeps Retain ones (moto has no
    create rollback, so its deletes are always of completed stacks)."""
    model = parsing.ResourceMap
    if getattr(model, "_items_api_patched", False):
        return
    original = model.delete

    def delete(self) -> None:
        kept = {
            name: resource
            for name, resource in self._resource_json_map.items()
            if resource.get("DeletionPolicy") == "RetainExceptOnCreate"
        }
        for resource in kept.values():
            resource["DeletionPolicy"] = "Retain"
        try:
            original(self)
        finally:
            for resource in kept.values():
                resource["DeletionPolicy"] = "RetainExceptOnCreate"

    model.delete = delete
    model._items_api_patched = True


def detach_stream_mappings() -> int:
    """Detach every table stream from moto's own Lambda delivery (in this process's moto);
    return how many mappings were detached."""
    from moto.dynamodb.models import dynamodb_backends

    detached = 0
    for account in dynamodb_backends.values():
        for backend in account.values():
            for table in backend.tables.values():
                detached += len(table.lambda_event_source_mappings)
                table.lambda_event_source_mappings.clear()
    return detached


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(log: Path, seconds: float = 60) -> tuple[subprocess.Popen, str]:
    """`python -m localapi.moto_compat` on a free loopback port, its output in `log`:
    (process, endpoint). The endpoint's host is `localhost`: moto resolves a path-style S3
    TemplateURL only for that host."""
    port = free_port()
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "localapi.moto_compat", "-H", "127.0.0.1", "-p", str(port)],
            cwd=Path(__file__).resolve().parents[1],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return server, f"http://localhost:{port}"
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError(f"moto_server did not start: {log.read_text()}")


# Lambda GetAccountSettings (see the module docstring): moto routes no /account-settings/ URL.
ACCOUNT_SETTINGS_PATH = r"{0}/(?P<api_version>[^/]+)/account-settings/?$"
DEFAULT_CONCURRENCY_LIMIT = 1000  # AWS's default Lambda concurrency quota per account and region


def _get_account_settings(self: Any) -> tuple[int, dict, str]:
    """GetAccountSettings as Lambda answers it, from moto's own functions and quota."""
    limit = int(os.environ.get("MOTO_LAMBDA_CONCURRENCY_QUOTA", DEFAULT_CONCURRENCY_LIMIT))
    functions = list(self.backend.list_functions())
    reserved = sum(int(f.reserved_concurrency or 0) for f in functions)
    body = {
        "AccountLimit": {
            "TotalCodeSize": 80530636800,
            "CodeSizeUnzipped": 262144000,
            "CodeSizeZipped": 52428800,
            "ConcurrentExecutions": limit,
            "UnreservedConcurrentExecutions": limit - reserved,
        },
        "AccountUsage": {
            "TotalCodeSize": sum(int(f.code_size or 0) for f in functions),
            "FunctionCount": len(functions),
        },
    }
    return 200, {}, json.dumps(body)


def _lambda_account_settings() -> None:
    """Route GET /<api version>/account-settings/ to moto's Lambda (in-process mock_aws reads
    url_paths per request; moto_server when it builds its app, after apply())."""
    from moto.awslambda import urls as lambda_urls
    from moto.awslambda.responses import LambdaResponse

    if getattr(LambdaResponse, "get_account_settings", None) is _get_account_settings:
        return
    lambda_urls.url_paths[ACCOUNT_SETTINGS_PATH] = LambdaResponse.dispatch
    LambdaResponse.get_account_settings = _get_account_settings  # type: ignore[attr-defined]


def _list_parameters_as_text() -> None:
    """DescribeStacks (and UsePreviousValue) give a list parameter as its comma-joined text."""
    model = cfn_models.Stack
    if getattr(model, "_items_api_lists_patched", False):
        return
    by_key, listed = model.stack_parameters.fget, model.parameter_list.fget

    def text(value: Any) -> Any:
        return ",".join(str(i) for i in value) if isinstance(value, list) else value

    def stack_parameters(self) -> dict[str, Any]:
        return {k: text(v) for k, v in by_key(self).items()}

    def parameter_list(self) -> list[dict[str, Any]]:
        return [{**p, "ParameterValue": text(p["ParameterValue"])} for p in listed(self)]

    model.stack_parameters = property(stack_parameters)
    model.parameter_list = property(parameter_list)
    model._items_api_lists_patched = True


def apply() -> None:
    """Idempotent: patch the moto models named in the module docstring."""
    _patch(models.Method, _mock_integration)
    _patch(kms_models.Key, _kms_key)
    _lambda_versions_and_aliases()
    _lambda_account_settings()
    _retain_except_on_create()
    _list_parameters_as_text()


if __name__ == "__main__":
    apply()
    from moto.server import main

    sys.exit(main(sys.argv[1:]))
