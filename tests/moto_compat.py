"""Gaps of moto's CloudFormation that our valid template runs into, patched for the tests only.

- AWS::ApiGateway::Method: moto reads Integration.IntegrationHttpMethod and Integration.Uri
  unconditionally, but a MOCK integration (our CORS preflights) has neither.
- AWS::KMS::Key: moto passes the CloudFormation Tags ({Key, Value}) to its KMS API, which
  wants {TagKey, TagValue}, and fails with KeyError on a tagged key.

`python -m tests.moto_compat -H 127.0.0.1 -p PORT` runs moto_server with the patches applied."""

import copy
import sys

from moto.apigateway import models
from moto.kms import models as kms_models


def _mock_integration(properties: dict) -> None:
    integration = properties.get("Integration", {})
    if integration.get("Type") == "MOCK":
        integration.setdefault("IntegrationHttpMethod", "POST")
        integration.setdefault("Uri", "")


def _kms_tags(properties: dict) -> None:
    properties["Tags"] = [
        {"TagKey": t["Key"], "TagValue": t["Value"]} for t in properties.get("Tags", [])
    ]


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


def apply() -> None:
    """Idempotent: patch the moto models named in the module docstring."""
    _patch(models.Method, _mock_integration)
    _patch(kms_models.Key, _kms_tags)


if __name__ == "__main__":
    apply()
    from moto.server import main

    sys.exit(main(sys.argv[1:]))
