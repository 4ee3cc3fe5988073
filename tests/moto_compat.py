"""Gaps of moto's CloudFormation that our valid template runs into, patched for the tests only.

- AWS::ApiGateway::Method: moto reads Integration.IntegrationHttpMethod and Integration.Uri
  unconditionally, but a MOCK integration (our CORS preflights) has neither.

`python -m tests.moto_compat -H 127.0.0.1 -p PORT` runs moto_server with the patches applied."""

import copy
import sys

from moto.apigateway import models


def apply() -> None:
    """Idempotent: patch moto's Method creation to tolerate MOCK integrations."""
    method = models.Method
    if getattr(method, "_items_api_patched", False):
        return
    original = method.create_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        cloudformation_json = copy.deepcopy(cloudformation_json)
        integration = cloudformation_json["Properties"].get("Integration", {})
        if integration.get("Type") == "MOCK":
            integration.setdefault("IntegrationHttpMethod", "POST")
            integration.setdefault("Uri", "")
        return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    method.create_from_cloudformation_json = classmethod(create)
    method._items_api_patched = True


if __name__ == "__main__":
    apply()
    from moto.server import main

    sys.exit(main(sys.argv[1:]))
