"""Gaps of moto's CloudFormation that our valid template runs into, patched wherever we run
moto: the tests and `make local` (never the product in AWS).

- AWS::ApiGateway::Method: moto reads Integration.IntegrationHttpMethod and Integration.Uri
  unconditionally, but a MOCK integration (our CORS preflights) has neither.
- AWS::KMS::Key: moto passes the CloudFormation Tags ({Key, Value}) to its KMS API, which
  wants {TagKey, TagValue}, and fails with KeyError on a tagged key; and it keeps the KeyPolicy
  as an object, which its KMS API then fails to parse (500 on DescribeKey, ScheduleKeyDeletion).

- DynamoDB streams with an event source mapping: moto delivers each record to the function itself,
  through Docker (absent here), and then drops the stream's records. `make local` runs the
  mappings itself (localapi.streams), so detach_stream_mappings switches moto's delivery off.

`python -m localapi.moto_compat -H 127.0.0.1 -p PORT` runs moto_server with the patches applied."""

import copy
import json
import sys

from moto.apigateway import models
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


def apply() -> None:
    """Idempotent: patch the moto models named in the module docstring."""
    _patch(models.Method, _mock_integration)
    _patch(kms_models.Key, _kms_key)


if __name__ == "__main__":
    apply()
    from moto.server import main

    sys.exit(main(sys.argv[1:]))
