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
- Exports: CreateStack evaluates every exported output's Value before it creates any resource
  (to check the export names), which creates the resources those values name out of order;
  `_exports_named_first` evaluates the names only, and a value when it is read.
- Exports of a stack made by a change set, or updated, were never registered, and deleting it
  failed (KeyError, a 500): `_register_exports` keeps the registry in step.
- A deleted stack's outputs (DescribeStacks by stack ID) made the resources they name again
  (moto makes resources when first read); `_outputs_read_before_delete` reads them first.
- AWS::ApiGateway::Stage: moto's CloudFormation skips it too, so no stage existed and nothing
  showed which deployment it serves. ApiStageModel makes it in moto's API Gateway with its
  DeploymentId, Variables and Description, and an update moves it to the new DeploymentId
  (what a console edit of an API-shaping parameter must do, templates/api_deployment.py).

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
  mappings itself (tools.local.streams), so detach_stream_mappings switches moto's delivery off.
- S3 DeleteObjectTagging of a key that does not exist, or whose current version is a delete
  marker: moto fails with AttributeError (a 500) where S3 answers an error (NoSuchKey here).
  The stream consumer commits attachments with it, and may meet one already deleted
  (`_object_tagging_of_a_missing_key`).
- Lambda GetAccountSettings (`make preflight`'s concurrency check): moto has neither the route
  nor an answer. It answers here: AccountLimit.ConcurrentExecutions 1000 (or moto's own
  MOTO_LAMBDA_CONCURRENCY_QUOTA, which its PutFunctionConcurrency enforces) and
  UnreservedConcurrentExecutions = that minus every function's reserved concurrency. moto's API
  Gateway has GetAccount/UpdateAccount already, with no CloudWatch role set, as in a new account.

- Custom resources (Custom::* and AWS::CloudFormation::CustomResource, `_custom_resources`):
  moto's CustomModel invokes the ServiceToken Lambda through Docker (absent here) in a thread,
  for Create only, and does not know AWS::CloudFormation::CustomResource. Here, when the token
  is a Lambda function in moto, Create, Update and Delete run its handler in-process and
  synchronously (invoke_in_process: the zip moto holds, unzipped and imported under a name of
  its own, with the function's environment and a Lambda context; its boto3 calls reach this
  process's moto: the tests' mock_aws, or one started without reset inside moto_server). The
  event is CloudFormation's (property values as strings, ServiceToken included); the
  ResponseURL is a loopback HTTP server; the answer PUT there makes the resource (SUCCESS:
  PhysicalResourceId is its Ref, Data its GetAtts) or fails it (FAILED, or no answer: the
  reason in a <ACTION>_FAILED event). A handler's SIGALRM watchdog is a no-op off the main
  thread (moto_server runs CloudFormation in a request thread, where signal.signal raises).
- A failed custom resource fails the stack operation (`_failed_operations`) instead of an error
  answer (moto has no failed states): a create rolls back (what was made is deleted,
  ROLLBACK_COMPLETE), an update rolls back to the previous template and parameters
  (UPDATE_ROLLBACK_COMPLETE; the custom resource gets its Update back), a stack delete stops
  at DELETE_FAILED. The stack's events carry the reason.
- UpdateStack (`_updates`, `_previous_parameter_values`): moto's UsePreviousValue reads only
  the values given at create (KeyError, a 500, for a defaulted parameter); it counts a
  parameter left at its default as changed; it updates a resource only when its JSON changed
  or it Refs a changed parameter (not through Fn::Sub, nor when a Ref or GetAtt it reads
  changed), in any order; and a type without an update (a layer version, a version, a method)
  becomes None (its Refs break, it leaves the stack's resources). Here an update goes in
  dependency order and updates a resource whenever its properties as resolved now differ from
  those it was made with: types moto cannot update are replaced when CloudFormation replaces
  them (REPLACED_ON_UPDATE: made anew, the old one deleted in cleanup, dependents first),
  made again in place (MADE_AGAIN_ON_UPDATE), or kept as they are (a table, a key, a log
  group: the event says so); an update in place keeps the resource's name; a custom resource
  whose Update answers a new PhysicalResourceId has the old one deleted in cleanup; removed
  resources are deleted in cleanup unless their DeletionPolicy keeps them. Each updated,
  replaced or deleted resource gets its event.
- ExecuteChangeSet of an UPDATE (`_failed_operations`) runs as UpdateStack (moto's leaves the
  stack's parameters and outputs as they were), and the change set lists what the update
  would change (`_change_set_changes`: moto compares JSON only, so a parameter change lists
  nothing).
- A stack's create goes in dependency order (`_create_in_dependency_order`; moto goes in
  document order, following DependsOn only), so the template's order does not matter.
- A stack's delete goes dependents first (`_delete_in_dependency_order`; moto goes in any
  order and retries): a custom resource's Delete runs while its function still exists.

`python -m tools.local.moto_compat -H 127.0.0.1 -p PORT` runs moto_server, patched."""

import contextlib
import copy
import http.server
import importlib.util
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
import weakref
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from moto.apigateway import models
from moto.awslambda import models as lambda_models
from moto.awslambda.exceptions import UnknownFunctionException
from moto.awslambda.utils import get_backend
from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing
from moto.cloudformation.custom_model import CustomModel
from moto.cloudformation.exceptions import ValidationError
from moto.core.common_models import CloudFormationModel
from moto.kms import models as kms_models

from tools import ROOT, intrinsics


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


class ApiStageModel(CloudFormationModel):
    """AWS::ApiGateway::Stage in moto's CloudFormation, which skips the type: the stage in moto's
    API Gateway, pointing at its DeploymentId (a console edit's new deployment moves it)."""

    __module__ = "moto.apigateway.items_api_compat"  # see LambdaAliasModel

    def __init__(self, rest_api_id: str, name: str) -> None:
        self.rest_api_id, self.name = rest_api_id, name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGateway::Stage"

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ) -> "ApiStageModel":
        props = cloudformation_json["Properties"]
        models.apigateway_backends[account_id][region_name].create_stage(
            props["RestApiId"],
            props["StageName"],
            deploymentId=props["DeploymentId"],
            variables=props.get("Variables"),
            description=props.get("Description", ""),
            tracing_enabled=props.get("TracingEnabled"),
        )
        return cls(props["RestApiId"], props["StageName"])

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ) -> "ApiStageModel":
        props = cloudformation_json["Properties"]
        if (props["RestApiId"], props["StageName"]) != (
            original_resource.rest_api_id,
            original_resource.name,
        ):  # a new name is a new stage (CloudFormation replaces it)
            original_resource.delete(account_id, region_name)
            return cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )
        backend = models.apigateway_backends[account_id][region_name]
        stage = backend.get_stage(props["RestApiId"], props["StageName"])
        stage.deployment_id = props["DeploymentId"]
        stage.variables = props.get("Variables") or {}
        stage.description = props.get("Description", "")
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        """Deleting the REST API deletes its stages: one deleted first has none left."""
        with contextlib.suppress(Exception):
            models.apigateway_backends[account_id][region_name].delete_stage(
                self.rest_api_id, self.name
            )


class _LazyExport(parsing.Export):
    """An export whose value is its output's, read when asked for (ListExports,
    Fn::ImportValue) and kept by the output map."""

    def __init__(self, stack_id: str, name: str, outputs: Any, key: str) -> None:
        super().__init__(stack_id, name, None)  # type: ignore[arg-type]
        self._outputs, self._key = outputs, key

    @property
    def value(self) -> Any:
        output = self._outputs[self._key]
        return output.value if output else None


def _exports_named_first() -> None:
    """CreateStack checks that export names are unique, and records the exports, before it
    creates any resource, and moto evaluates each exported Value to do so: every resource an
    output names is created then, ahead of the resources it depends on (the API's deployment
    before its methods, through the stage the URL output names). Only the names are evaluated
    here; a value is read when it is asked for."""
    model = parsing.OutputMap
    if getattr(model, "_items_api_exports_patched", False):
        return

    def exports(self) -> list:
        return [
            _LazyExport(
                self._stack_id,
                parsing.clean_json(output["Export"].get("Name"), self._resource_map),
                self,
                key,
            )
            for key, output in (self._output_json_map or {}).items()
            if output.get("Export")
        ]

    model.exports = property(exports)
    model._items_api_exports_patched = True


def _outputs_read_before_delete() -> None:
    """moto makes a stack's resources lazily, when something first reads them; reading a
    deleted stack's outputs (DescribeStacks by stack ID) would make the resources they name
    again, in a stack that no longer exists. The outputs are read (and kept) before the
    delete."""
    model = cfn_models.Stack
    if getattr(model, "_items_api_outputs_patched", False):
        return
    delete = model.delete

    def read_then_delete(self) -> None:
        for key in list(self.output_map.outputs):
            self.output_map[key]  # parsed once, then kept by the map
        delete(self)

    model.delete = read_then_delete
    model._items_api_outputs_patched = True


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
        if getattr(self, "_items_api_rolling_back", False):  # a failed create: they go too
            original(self)
            return
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


def _object_tagging_of_a_missing_key() -> None:
    from moto.s3.exceptions import MissingKey
    from moto.s3.models import S3Backend

    if getattr(S3Backend, "_items_api_tagging_patched", False):
        return
    original = S3Backend.delete_object_tagging

    def delete_object_tagging(self, bucket_name, key_name, version_id=None):
        if self.get_object(bucket_name, key_name, version_id=version_id) is None:
            raise MissingKey(key=key_name)
        return original(self, bucket_name, key_name, version_id=version_id)

    S3Backend.delete_object_tagging = delete_object_tagging
    S3Backend._items_api_tagging_patched = True


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


def start_server(log: Path, seconds: float = 60) -> tuple[subprocess.Popen, str]:
    """`python -m tools.local.moto_compat` on a free loopback port, its output in `log`:
    (process, endpoint). The endpoint's host is `localhost`: moto resolves a path-style S3
    TemplateURL only for that host. The server binds port 0 and its log names the port it got:
    a port picked here and bound there could meanwhile be taken by another process (another
    test worker's server), which would then answer in its stead."""
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "tools.local.moto_compat", "-H", "127.0.0.1", "-p", "0"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and server.poll() is None:
        running = re.search(r"Running on http://127\.0\.0\.1:(\d+)", log.read_text())
        if running:
            port = int(running[1])
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return server, f"http://localhost:{port}"
            except OSError:
                pass
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


# --- Custom resources, run in-process (see the module docstring) ----------------------------

CUSTOM_RESOURCE_TYPE = "AWS::CloudFormation::CustomResource"  # the type moto does not know


class CustomResourceFailed(ValidationError):
    """A custom resource's handler answered FAILED, or nothing: the stack operation fails with
    the reason. A ValidationError, so a path that does not catch it answers 400, not 500."""

    def __init__(self, logical_id: str, action: str, reason: str) -> None:
        super().__init__(logical_id, message=reason)
        self.logical_id, self.action, self.reason = logical_id, action, reason


_STACKS: "weakref.WeakValueDictionary[str, Any]" = weakref.WeakValueDictionary()
_HANDLERS = threading.RLock()  # one handler at a time per process (the in-process mock's count)


def resource_event(
    stack_id: str, logical_id: str, resource_type: str, physical_id: str | None,
    status: str, reason: str | None = None,
) -> None:  # fmt: skip
    """A resource's event in its stack's DescribeStackEvents (moto records the stack's only)."""
    stack = _STACKS.get(stack_id)
    if stack is None:
        return
    event = cfn_models.Event(
        stack_id=stack_id,
        stack_name=stack.name,
        logical_resource_id=logical_id,
        physical_resource_id=physical_id,  # type: ignore[arg-type]
        resource_type=resource_type,
        resource_status=status,
        resource_status_reason=reason,
        resource_properties=None,
    )
    event.sendToSns(stack.account_id, stack.region_name, stack.notification_arns)
    stack.events.append(event)


def _register_stacks() -> None:
    """Know each stack by its ID, for resource events (a deleted one is out of the backend's
    list while its resources are deleted)."""
    model = cfn_models.Stack
    if getattr(model._create_resource_map, "_items_api", False):
        return
    original = model._create_resource_map

    def create_resource_map(self: Any) -> Any:
        _STACKS[self.stack_id] = self
        return original(self)

    create_resource_map._items_api = True  # type: ignore[attr-defined]
    model._create_resource_map = create_resource_map


class _Answers(http.server.BaseHTTPRequestHandler):
    """The ResponseURL: keeps the body of each PUT (CloudFormation's presigned S3 URL)."""

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.answers.append(body)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _response_url(path: str) -> Iterator[tuple[str, list[bytes]]]:
    """A loopback HTTP server for the call: (its URL, the bodies PUT to it). It checks for its
    shutdown every 10 ms (socketserver's default, 0.5 s, was half a second of every custom
    resource request)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    server.answers = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{path}", server.answers  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


class LambdaContext:
    """The context a Lambda handler gets (what handlers read of it)."""

    def __init__(self, fn: Any, request_id: str) -> None:
        self.function_name = fn.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = fn.function_arn
        self.memory_limit_in_mb = int(fn.memory_size)
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{fn.function_name}"
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self._deadline = time.monotonic() + float(fn.timeout)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@contextlib.contextmanager
def _environment(values: dict[str, str], dropped: tuple[str, ...]) -> Iterator[None]:
    """os.environ with `values` set and `dropped` (prefixes) unset; restored after."""
    previous = dict(os.environ)
    for key in [k for k in os.environ if k.startswith(dropped)]:
        del os.environ[key]
    os.environ.update(values)
    try:
        yield
    finally:  # key by key: other threads of the server read it meanwhile
        for key in set(os.environ) - set(previous):
            del os.environ[key]
        for key, value in previous.items():
            if os.environ.get(key) != value:
                os.environ[key] = value


@contextlib.contextmanager
def _moto_in_process() -> Iterator[None]:
    """The handler's boto3 calls go to this process's moto backends. In-process tests already
    have mock_aws active; moto_server has none, so a mock is started for the call, without
    reset (the backends stay) and stopped without removing data."""
    from moto import mock_aws
    from moto.core.models import MockAWS

    if MockAWS._nested_count > 0:
        yield
        return
    mock = mock_aws()
    mock.start(reset=False)
    try:
        yield
    finally:
        mock.stop(remove_data=False)


@contextlib.contextmanager
def _signals_off_the_main_thread() -> Iterator[None]:
    """Lambda runs a handler in the main thread; moto_server (and `make local`'s threaded
    server) run CloudFormation in a request thread, where signal.signal raises ValueError. A
    handler's SIGALRM watchdog (signal.signal, setitimer, alarm) is a no-op in that thread for
    the call: the deadline is not enforced there."""
    if threading.current_thread() is threading.main_thread():
        yield
        return
    handler_thread = threading.current_thread()
    real = signal.signal, signal.setitimer, signal.alarm
    installed: dict[int, Any] = {}

    def fake_signal(signum: int, handler: Any) -> Any:
        if threading.current_thread() is not handler_thread:
            return real[0](signum, handler)
        previous = installed.get(signum, signal.SIG_DFL)
        installed[signum] = handler
        return previous

    def fake_setitimer(which: int, seconds: float, interval: float = 0.0) -> Any:
        if threading.current_thread() is not handler_thread:
            return real[1](which, seconds, interval)
        return (0.0, 0.0)

    def fake_alarm(seconds: int) -> int:
        return real[2](seconds) if threading.current_thread() is not handler_thread else 0

    signal.signal, signal.setitimer, signal.alarm = fake_signal, fake_setitimer, fake_alarm  # type: ignore[assignment]
    try:
        yield
    finally:
        signal.signal, signal.setitimer, signal.alarm = real  # type: ignore[assignment]


def _load_handler(workdir: Path, handler: str) -> Callable[[dict, Any], Any]:
    """The handler `module.function` (or `dir/module.function`) of the unzipped code, imported
    under a name of its own (every function has its app.py)."""
    module_path, _, function_name = handler.rpartition(".")
    source = workdir.joinpath(*re.split(r"[./]", module_path)).with_suffix(".py")
    name = f"items_api_custom_resource_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, source)
    if spec is None or spec.loader is None or not source.is_file():
        raise FileNotFoundError(f"handler {handler}: no {source.relative_to(workdir)} in the code")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return getattr(module, function_name)


def invoke_in_process(fn: Any, event: dict, region: str) -> Any:
    """Run the Lambda function `fn` (moto's) on `event` in this process, from the code moto
    holds for it: unzipped, imported, called with its environment and a context. Returns what
    the handler returned; raises what it raised."""
    request_id = str(uuid.uuid4())
    with contextlib.ExitStack() as stack:
        stack.enter_context(_HANDLERS)
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lambda-")))
        with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as code:
            code.extractall(workdir)
        modules_before = set(sys.modules)
        sys.path.insert(0, str(workdir))
        stack.callback(_forget_modules, workdir, modules_before)
        values = {
            **{k: str(v) for k, v in (fn.environment_vars or {}).items()},
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "LAMBDA_TASK_ROOT": str(workdir),
            "_HANDLER": fn.handler,
        }
        # Lambda's own environment has neither; moto_server's may point at itself.
        stack.enter_context(_environment(values, ("AWS_ENDPOINT_URL", "AWS_PROFILE")))
        stack.enter_context(_moto_in_process())
        stack.enter_context(_signals_off_the_main_thread())
        handler = _load_handler(workdir, fn.handler)
        return handler(event, LambdaContext(fn, request_id))


def _forget_modules(workdir: Path, before: set[str]) -> None:
    """Drop the handler's modules (and the code from sys.path): the next call imports afresh."""
    with contextlib.suppress(ValueError):
        sys.path.remove(str(workdir))
    for name in set(sys.modules) - before:
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None) or ""
        if name.startswith("items_api_custom_resource_") or path.startswith(str(workdir)):
            del sys.modules[name]


def _as_strings(value: Any) -> Any:
    """CloudFormation gives a custom resource its property values as strings."""
    if isinstance(value, dict):
        return {k: _as_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_strings(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _names_a_function(token: Any) -> bool:
    """Whether a ServiceToken names a Lambda function (else an SNS topic: moto's own way)."""
    return isinstance(token, str) and (":lambda:" in token or not token.startswith("arn:"))


def _custom_request(resource: Any, request_type: str, properties: dict,
                    old_properties: dict | None = None) -> dict:  # fmt: skip
    """Send the custom resource request to its function, in-process, and read the answer PUT
    to the ResponseURL: the answer when SUCCESS, else CustomResourceFailed (after its event)."""
    action = {"Create": "CREATE", "Update": "UPDATE", "Delete": "DELETE"}[request_type]
    request_id = str(uuid.uuid4())
    event = {
        "RequestType": request_type,
        "ServiceToken": properties.get("ServiceToken"),
        "ResponseURL": "",
        "StackId": resource.stack_id,
        "RequestId": request_id,
        "LogicalResourceId": resource.logical_id,
        "ResourceType": resource.resource_type,
        "ResourceProperties": _as_strings(properties),
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = resource.physical_resource_id
    if old_properties is not None:
        event["OldResourceProperties"] = _as_strings(old_properties)
    reason = None
    path = urllib.parse.quote(f"{resource.stack_id}|{resource.logical_id}|{request_id}", safe="")
    with _response_url(path) as (url, answers):
        event["ResponseURL"] = url
        try:
            backend = get_backend(resource.account_id, resource.region_name)
            fn = backend.get_function(properties.get("ServiceToken"))
            invoke_in_process(fn, event, resource.region_name)
        except Exception as error:  # what Lambda would log; CloudFormation hears nothing
            reason = f"the function raised {type(error).__name__}: {error}"
    answer: dict = {}
    if answers:
        with contextlib.suppress(ValueError):
            answer = json.loads(answers[-1])
    if answer.get("Status") == "SUCCESS" and (
        request_type == "Delete" or answer.get("PhysicalResourceId")
    ):
        return answer
    if answer.get("Status") == "SUCCESS":
        reason = "Invalid PhysicalResourceId (the SUCCESS answer has none)"
    elif answer:
        reason = (
            f"Received response status [{answer.get('Status')}] from custom resource. "
            f"Message returned: {answer.get('Reason') or 'none'}"
        )
    else:
        reason = f"no answer at the ResponseURL ({reason or 'the function returned'})"
    physical = None if request_type == "Create" else resource.physical_resource_id
    resource_event(resource.stack_id, resource.logical_id, resource.resource_type, physical,
                   f"{action}_FAILED", reason)  # fmt: skip
    raise CustomResourceFailed(resource.logical_id, action, reason)


def _custom_resources() -> None:
    """Custom::* and AWS::CloudFormation::CustomResource backed by a Lambda function in moto:
    Create, Update and Delete run the handler in-process (moto invokes it through Docker, in a
    thread, for Create only)."""
    model = CustomModel
    if getattr(model, "_items_api_patched", False):
        return
    original_create = model.create_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        if not _names_a_function(properties.get("ServiceToken")):
            return original_create(cls, resource_name, cloudformation_json, account_id,
                                   region_name, **kwargs)  # fmt: skip
        resource = cls(region_name, "", kwargs["LogicalId"], resource_name)
        resource.account_id, resource.stack_id = account_id, kwargs["StackId"]
        resource.resource_type = kwargs["ResourceType"]
        answer = _custom_request(resource, "Create", properties)
        return _answered(resource, answer, properties)

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id,
               region_name):  # fmt: skip
        properties = cloudformation_json["Properties"]
        old = original_resource
        if not getattr(old, "_items_api", False):  # made by moto's own way (an SNS token)
            return old
        try:
            answer = _custom_request(old, "Update", properties, old.properties)
        except CustomResourceFailed:
            old.properties = properties  # the rollback's Update has these as the old ones
            raise
        new = cls(region_name, "", old.logical_id, answer["PhysicalResourceId"])
        new.account_id, new.stack_id = account_id, old.stack_id
        new.resource_type = old.resource_type
        return _answered(new, answer, properties)

    def delete(self, account_id: str, region_name: str) -> None:
        if getattr(self, "_items_api", False):
            _custom_request(self, "Delete", self.properties)

    model.create_from_cloudformation_json = classmethod(create)
    model.update_from_cloudformation_json = classmethod(update)
    model.delete = delete
    original_class_from_type = parsing.resource_class_from_type

    def resource_class_from_type(resource_type: str) -> Any:
        if resource_type == CUSTOM_RESOURCE_TYPE:
            return CustomModel
        return original_class_from_type(resource_type)

    parsing.resource_class_from_type = resource_class_from_type
    model._items_api_patched = True


def _answered(resource: Any, answer: dict, properties: dict) -> Any:
    """The resource as its SUCCESS answer describes it: physical ID, attributes (Data)."""
    resource._items_api = True
    resource.resource_name = answer.get("PhysicalResourceId") or resource.resource_name
    resource.properties = copy.deepcopy(properties)
    resource.set_data(answer.get("Data") or {})
    stack = _STACKS.get(resource.stack_id)
    if stack is not None:
        stack.add_custom_resource(resource)
    return resource


# --- Stack updates (see the module docstring) -----------------------------------------------

# Types moto has no update for, which CloudFormation replaces on any change of their
# properties: a new one is made, the old one deleted once the update is done (as CloudFormation
# does in its cleanup), unless UpdateReplacePolicy keeps it.
REPLACED_ON_UPDATE = (
    "AWS::ApiGateway::Deployment",
    "AWS::ApiGateway::Resource",
    "AWS::Lambda::LayerVersion",
    "AWS::Lambda::Permission",
    "AWS::Lambda::Version",
)
# Types moto has no update for, whose create puts the same thing again (an update in place).
MADE_AGAIN_ON_UPDATE = ("AWS::ApiGateway::Method",)


def references(node: Any) -> set[str]:
    """The names a template node refers to: Ref, Fn::GetAtt, Fn::Sub variables (a resource,
    parameter or pseudo parameter; an attribute's resource), conditions (Fn::If, Condition)."""
    return {r.name for r in intrinsics.references(node)} | set(intrinsics.conditions_named(node))


def dependency_order(resources: dict[str, Any]) -> list[str]:
    """Logical IDs, each after those it refers to or DependsOn (a cycle is cut anywhere)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        resource = resources[name]
        depends = resource.get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else depends
        for other in sorted((references(resource) | set(depends)) & resources.keys()):
            visit(other)
        order.append(name)

    for name in resources:
        visit(name)
    return order


def _applied(resource_map: Any) -> dict[str, Any]:
    """Each resource's properties as resolved when it was last made or updated."""
    return resource_map.__dict__.setdefault("_items_api_applied", {})


def _resolved(resource_map: Any, resource_json: dict) -> Any:
    return copy.deepcopy(parsing.clean_json(resource_json.get("Properties") or {}, resource_map))


def _record_resolved_properties() -> None:
    """Remember what each resource was made with, for the next update to compare."""
    if getattr(parsing.parse_and_create_resource, "_items_api", False):
        return
    original = parsing.parse_and_create_resource

    def parse_and_create_resource(logical_id, resource_json, resources_map, account_id,
                                  region_name):  # fmt: skip
        resource = original(logical_id, resource_json, resources_map, account_id, region_name)
        if resource is not None:
            _applied(resources_map)[logical_id] = _resolved(resources_map, resource_json)
        return resource

    parse_and_create_resource._items_api = True  # type: ignore[attr-defined]
    parsing.parse_and_create_resource = parse_and_create_resource


def _update_resource(self: Any, name: str, resource_json: dict, current: Any):
    """Update one resource as CloudFormation would: (the resource now, whether the old one was
    replaced and is to be deleted, a reason for the event)."""
    resource_type = resource_json["Type"]
    resource_class, cleaned, generated = parsing.parse_resource_and_generate_name(
        name, resource_json, self
    )
    made = (cleaned, self._account_id, self._region_name)
    kwargs = {"LogicalId": name, "StackId": self.stack_id, "ResourceType": resource_type}
    replaced, note = False, None
    if getattr(current, "cf_resource_type", None) != resource_type or (
        resource_type in REPLACED_ON_UPDATE
    ):
        if isinstance(current, lambda_models.LayerVersion):
            generated = current.name  # the layer's next version (moto named the layer)
        new = resource_class.create_from_cloudformation_json(generated, *made, **kwargs)
        replaced = True
    elif not hasattr(resource_class.update_from_cloudformation_json, "__isabstractmethod__"):
        # An update in place keeps the name CloudFormation gave it: moto would draw a new one
        # (its SNS topic and dashboard updates recreate under it) or, for a bucket's tags,
        # read the template's BucketName (KeyError when there is none).
        name_property = parsing.resource_name_property_from_type(resource_type)
        current_name = getattr(current, "name", None)
        if name_property and isinstance(current_name, str):
            cleaned["Properties"].setdefault(name_property, current_name)
            generated = cleaned["Properties"][name_property]
        new = resource_class.update_from_cloudformation_json(
            original_resource=current,
            new_resource_name=generated,
            cloudformation_json=cleaned,
            account_id=self._account_id,
            region_name=self._region_name,
        )
        new = current if new is None else new  # moto's KMS alias update answers None
        replaced = isinstance(current, CustomModel) and (
            new.physical_resource_id != current.physical_resource_id
        )
    elif resource_type in MADE_AGAIN_ON_UPDATE:
        new = resource_class.create_from_cloudformation_json(generated, *made, **kwargs)
    else:
        new, note = current, f"moto has no update for {resource_type}: kept as it was"
    new.cf_resource_type = resource_type
    new.logical_resource_id = name
    return new, replaced, note


def _discard(self: Any, resource: Any, resource_json: dict) -> str | None:
    """Delete a resource the update replaced or removed (moto has no delete for a layer
    version or an API Gateway resource); a note when it stays."""
    if isinstance(resource, lambda_models.LambdaVersion):
        return "kept in moto: it numbers a function's versions by their count"
    if isinstance(resource, lambda_models.LayerVersion):
        backend = get_backend(self._account_id, self._region_name)
        backend.delete_layer_version(resource.name, str(resource.version))
    elif isinstance(resource, models.Resource):
        backend = models.apigateway_backends[self._account_id][self._region_name]
        backend.delete_resource(resource.api_id, resource.id)
    else:
        self._delete_resource(resource, resource_json)
    return None


def _update(self: Any, template: dict[str, Any], parameters: dict[str, Any] | None = None) -> None:
    """ResourceMap.update as CloudFormation updates: resources in dependency order, each updated
    when its properties as resolved now (parameters, conditions, the Refs and GetAtts of what
    was updated before it) differ from those it was made or last updated with; then, in
    cleanup, what was removed or replaced is deleted, dependents first."""
    old = self._resource_json_map
    updating = bool(old)  # a CREATE change set's stack starts empty
    applied = _applied(self)
    for name, resource_json in old.items():  # made before these patches recorded them
        if name not in applied and self._parsed_resources.get(name) is not None:
            applied[name] = _resolved(self, resource_json)
    self._template = template
    if parameters:
        self.input_parameters = parameters
    self.load_mapping()
    self.load_parameters()
    self.load_conditions()
    self._resource_json_map = resources = template["Resources"]
    cleanup: list[tuple[str, Any, str]] = []  # (logical ID, old resource, policy)

    def event(name: str, resource: Any, status: str, reason: str | None = None) -> None:
        if updating:
            physical = getattr(resource, "physical_resource_id", None)
            resource_type = getattr(resource, "cf_resource_type", None) or (
                resources.get(name) or old[name])["Type"]  # fmt: skip
            resource_event(self.stack_id, name, resource_type, physical, status, reason)

    for name in dependency_order(resources):
        resource_json = resources[name]
        condition = resource_json.get("Condition")
        wanted = not condition or self.lazy_condition_map[condition]
        current = self._parsed_resources.get(name)
        if current is None:
            if wanted and (made := self[name]) is not None:
                event(name, made, "CREATE_COMPLETE")
            continue
        if not wanted:  # its condition turned false: deleted in cleanup
            cleanup.append((name, self._parsed_resources.pop(name), "DeletionPolicy"))
            applied.pop(name, None)
            continue
        properties = _resolved(self, resource_json)
        if applied.get(name) == properties and current.cf_resource_type == resource_json["Type"]:
            continue
        applied[name] = properties  # also when it fails: a rollback then updates it back
        new, replaced, note = _update_resource(self, name, resource_json, current)
        self._parsed_resources[name] = new
        if replaced:
            cleanup.append((name, current, "UpdateReplacePolicy"))
        event(name, new, "UPDATE_COMPLETE", note)
    for name in old:
        if name not in resources and self._parsed_resources.get(name) is not None:
            cleanup.append((name, self._parsed_resources.pop(name), "DeletionPolicy"))
            applied.pop(name, None)
    position = {name: i for i, name in enumerate(dependency_order(old))}
    for name, resource, policy in sorted(cleanup, key=lambda c: -position.get(c[0], -1)):
        resource_json = old.get(name) or resources[name]
        kept = resource_json.get(policy)
        if kept == "Retain" or (
            kept == "RetainExceptOnCreate" and not getattr(self, "_items_api_rolling_back", False)
        ):
            event(name, resource, "DELETE_SKIPPED")
            continue
        try:
            note = _discard(self, resource, resource_json)
        except CustomResourceFailed:
            continue  # its DELETE_FAILED event is recorded; the update stands, as in AWS
        except Exception as error:
            event(name, resource, "DELETE_FAILED", str(error))
            continue
        event(name, resource, "DELETE_COMPLETE", note)


def _updates() -> None:
    model = parsing.ResourceMap
    if getattr(model, "_items_api_update", False):
        return
    _record_resolved_properties()
    model.update = _update
    model._items_api_update = True


def _previous_parameter_values() -> None:
    """UsePreviousValue takes the stack's value, defaulted ones too (moto looks it up among
    the values given at create only: KeyError, a 500)."""
    model = cfn_models.CloudFormationBackend
    if getattr(model._resolve_update_parameters, "_items_api", False):
        return

    def resolve(self: Any, instance: Any, incoming_params: list[dict[str, Any]]) -> dict:
        previous = {**getattr(instance, "stack_parameters", {}), **instance.parameters}
        values = {p["ParameterKey"]: p["ParameterValue"] for p in incoming_params
                  if "ParameterValue" in p}  # fmt: skip
        values.update({p["ParameterKey"]: previous[p["ParameterKey"]] for p in incoming_params
                       if p.get("UsePreviousValue", False)})  # fmt: skip
        return values

    resolve._items_api = True  # type: ignore[attr-defined]
    model._resolve_update_parameters = resolve


def _create_in_dependency_order() -> None:
    """A stack's resources are made in dependency order (Ref, GetAtt, Sub, conditions,
    DependsOn), as CloudFormation makes them. moto goes in document order and follows DependsOn
    only; a Ref makes the resource it names on first use, but a custom resource's handler finds
    only what was made before it. Without this, the template's own order had to be a
    dependency order (tests/tools/local/test_moto_compat.py creates our stack with it reversed)."""
    model = parsing.ResourceMap
    if getattr(model, "_items_api_ordered_create", False):
        return

    def ordered(self: Any) -> list[str]:
        return dependency_order(self._resource_json_map)

    model._ResourceMap__get_resources_in_dependency_order = ordered  # the name moto mangles
    model._items_api_ordered_create = True


def _delete_in_dependency_order() -> None:
    """A stack's resources are deleted dependents first (moto goes in any order, retrying what
    fails): a custom resource's Delete runs while what it uses (its function) still exists."""
    model = parsing.ResourceMap
    if getattr(model, "_items_api_ordered_delete", False):
        return
    original = model.delete

    def delete(self: Any) -> None:
        for name in reversed(dependency_order(self._resource_json_map)):
            resource_json = self._resource_json_map[name]
            resource = self._parsed_resources.get(name)
            if resource is None or isinstance(resource, str):
                continue
            if resource_json.get("DeletionPolicy") == "Retain":
                continue
            try:
                self._delete_resource(resource, resource_json)
            except CustomResourceFailed:
                raise
            except Exception:
                continue  # moto's own passes, below, try it again
            self._parsed_resources.pop(name, None)
        original(self)

    model.delete = delete
    model._items_api_ordered_delete = True


def _roll_back_create(stack: Any, error: CustomResourceFailed) -> None:
    """A failed create, as CloudFormation ends it: what was made is deleted, ROLLBACK_COMPLETE."""
    stack.status = "ROLLBACK_IN_PROGRESS"
    stack._add_stack_event(
        "ROLLBACK_IN_PROGRESS",
        resource_status_reason=f"The following resource(s) failed to create: "
        f"[{error.logical_id}]. Rollback requested by user.",
    )
    stack.resource_map._items_api_rolling_back = True
    try:
        stack.resource_map.delete()
    except Exception as failure:
        stack.status = "ROLLBACK_FAILED"
        stack._add_stack_event("ROLLBACK_FAILED", resource_status_reason=str(failure))
        return
    finally:
        stack.resource_map._items_api_rolling_back = False
    backend = cfn_models.cloudformation_backends[stack.account_id][stack.region_name]
    for name, export in list(backend.exports.items()):
        if export.exporting_stack_id == stack.stack_id:
            del backend.exports[name]
    # Nothing left to list or output (moto's lazy map would make the resources again).
    stack.resource_map._resource_json_map = {}
    stack.output_map = parsing.OutputMap(stack.resource_map, {}, stack.stack_id)
    stack.status = "ROLLBACK_COMPLETE"
    stack._add_stack_event("ROLLBACK_COMPLETE")


def _roll_back_update(stack: Any, error: CustomResourceFailed, template: Any,
                      parameters: dict, input_parameters: dict) -> None:  # fmt: skip
    """A failed update, as CloudFormation ends it: the previous template and parameters are
    applied again (a custom resource gets an Update back), UPDATE_ROLLBACK_COMPLETE."""
    stack._add_stack_event(
        "UPDATE_ROLLBACK_IN_PROGRESS",
        resource_status_reason=f"The following resource(s) failed to "
        f"{error.action.lower()}: [{error.logical_id}]. ",
    )
    stack.template = template
    stack._parse_template()
    resource_map = stack.resource_map
    resource_map.input_parameters = input_parameters
    resource_map._items_api_rolling_back = True
    try:
        resource_map.update(stack.template_dict)
    except Exception as failure:
        stack.status = "UPDATE_ROLLBACK_FAILED"
        stack._add_stack_event("UPDATE_ROLLBACK_FAILED", resource_status_reason=str(failure))
        return
    finally:
        resource_map._items_api_rolling_back = False
    stack.parameters = parameters
    stack.output_map = stack._create_output_map()
    stack.status = "UPDATE_ROLLBACK_COMPLETE"
    stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")


def _register_exports(stack: Any) -> None:
    """The account's export registry as the stack now exports: moto registers exports only in
    CreateStack, so a stack made from a change set, or updated, had its exports unlisted, and
    its delete failed on them (KeyError, a 500)."""
    backend = cfn_models.cloudformation_backends[stack.account_id][stack.region_name]
    for name, export in list(backend.exports.items()):
        if export.exporting_stack_id == stack.stack_id:
            del backend.exports[name]
    for export in stack.exports:
        backend.exports[export.name] = export


def _failed_operations() -> None:
    """A custom resource's failure fails the stack operation as in CloudFormation, with its
    reason in the events (moto has no failed states; the error would answer the API call).
    ExecuteChangeSet of an UPDATE runs as UpdateStack does (moto's leaves the stack's
    parameters and outputs as they were)."""
    stack_model, backend_model = cfn_models.Stack, cfn_models.CloudFormationBackend
    if getattr(stack_model, "_items_api_failures", False):
        return
    create_resources, update = stack_model.create_resources, stack_model.update
    delete_stack, execute_change_set = backend_model.delete_stack, backend_model.execute_change_set

    def create_resources_(self: Any) -> None:
        try:
            create_resources(self)
        except CustomResourceFailed as error:
            _roll_back_create(self, error)

    def update_(self: Any, template: str, role_arn: str | None = None,
                parameters: dict | None = None, tags: dict | None = None) -> None:  # fmt: skip
        before = (self.template, self.parameters, self.resource_map.input_parameters)
        try:
            update(self, template, role_arn, parameters=parameters, tags=tags)
        except CustomResourceFailed as error:
            _roll_back_update(self, error, *before)
        _register_exports(self)

    def delete_stack_(self: Any, name_or_stack_id: str) -> None:
        stacks = dict(self.stacks)
        try:
            delete_stack(self, name_or_stack_id)
        except CustomResourceFailed as error:
            for stack_id, stack in stacks.items():
                if stack_id not in self.stacks and stack_id not in self.deleted_stacks:
                    self.stacks[stack_id] = stack
                    stack.status = "DELETE_FAILED"
                    stack._add_stack_event(
                        "DELETE_FAILED",
                        resource_status_reason="The following resource(s) failed to delete: "
                        f"[{error.logical_id}]. ",
                    )

    def execute_change_set_(self: Any, change_set_name: str, stack_name: str | None = None):
        change_set = self.describe_change_set(change_set_name)
        stack = self.stacks[change_set.stack_id]
        if change_set.change_set_type == "UPDATE":
            tags = change_set.tags or None  # none given: the stack keeps its own
            stack.update(change_set.template, change_set.role_arn, change_set.parameters, tags)
            done = stack.status == "UPDATE_COMPLETE"
            change_set.execution_status = "EXECUTE_COMPLETE" if done else "EXECUTE_FAILED"
            return
        try:
            execute_change_set(self, change_set_name, stack_name)
            _register_exports(stack)
        except CustomResourceFailed as error:
            change_set.execution_status = "EXECUTE_FAILED"
            stack.template = change_set.template
            stack._parse_template()
            _roll_back_create(stack, error)

    stack_model.create_resources = create_resources_
    stack_model.update = update_
    backend_model.delete_stack = delete_stack_
    backend_model.execute_change_set = execute_change_set_
    stack_model._items_api_failures = True


def planned_changes(stack: Any, template: dict, parameters: dict) -> list[tuple[str, str, str]]:
    """A change set's (action, logical ID, type), as CloudFormation lists them: Modify also for
    a resource whose parameters or conditions change (moto compares the JSON only), or that
    refers to one that may get a new ID or attributes (replaced, or a custom resource)."""
    current = stack.resource_map
    planned = parsing.ResourceMap(
        stack.stack_id, stack.name, parameters, stack.tags, region_name=stack.region_name,
        account_id=stack.account_id, template=template,
        cross_stack_resources=stack.cross_stack_resources,
    )  # fmt: skip
    planned.load()
    changed = {k for k, v in planned.resolved_parameters.items()
               if current.resolved_parameters.get(k) != v}  # fmt: skip
    conditions = getattr(current, "lazy_condition_map", {})
    changed |= {k for k, v in planned.lazy_condition_map.items() if dict.get(conditions, k) != v}
    old, new = current._resource_json_map, template.get("Resources", {})

    def exists(resource_map: Any, resource_json: dict) -> bool:
        condition = resource_json.get("Condition")
        return not condition or bool(dict.get(resource_map.lazy_condition_map, condition))

    changes, moving = [], set()  # moving: may get a new ID or attributes
    for name in dependency_order(new):
        resource_json, resource_type = new[name], new[name]["Type"]
        before = old.get(name)
        if before is None or not exists(current, before):
            if exists(planned, resource_json):
                changes.append(("Add", name, resource_type))
                moving.add(name)
        elif not exists(planned, resource_json):
            changes.append(("Remove", name, resource_type))
        elif resource_json != before or references(resource_json) & (changed | moving):
            changes.append(("Modify", name, resource_type))
            if (
                resource_type in REPLACED_ON_UPDATE
                or before["Type"] != resource_type
                or (parsing.resource_class_from_type(resource_type) is CustomModel)
            ):
                moving.add(name)
    changes += [("Remove", name, old[name]["Type"]) for name in old
                if name not in new and exists(current, old[name])]  # fmt: skip
    return changes


def _change_set_changes() -> None:
    model = cfn_models.ChangeSet
    if getattr(model, "_items_api_patched", False):
        return
    original = model.diff

    def diff(self: Any) -> list:
        if self.change_set_type != "UPDATE":
            return original(self)
        try:
            changes = planned_changes(self.stack, self.template_dict, self.parameters)
        except Exception:  # a template moto cannot load: its own comparison
            return original(self)
        return [cfn_models.Change(action, name, kind) for action, name, kind in changes]

    model.diff = diff
    model._items_api_patched = True


def apply() -> None:
    """Idempotent: patch the moto models named in the module docstring."""
    _exports_named_first()
    _patch(models.Method, _mock_integration)
    _patch(kms_models.Key, _kms_key)
    _lambda_versions_and_aliases()
    _lambda_account_settings()
    _create_in_dependency_order()
    _delete_in_dependency_order()  # inside _retain_except_on_create's wrapper
    _retain_except_on_create()
    _list_parameters_as_text()
    _outputs_read_before_delete()
    _register_stacks()
    _custom_resources()
    _updates()
    _previous_parameter_values()
    _failed_operations()
    _change_set_changes()
    _object_tagging_of_a_missing_key()


if __name__ == "__main__":
    apply()
    from moto.server import main

    sys.exit(main(sys.argv[1:]))
