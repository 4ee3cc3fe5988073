"""The OpenAPI document: valid OpenAPI 3.0, one operation per catalog route with exactly its
statuses, the item schema file as the body schema, the same bytes in dist/ and in the openapi
function's zip, and served by that function for the deployed collection prefix."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
from openapi_spec_validator import validate

import build
from templates.catalog import COLLECTION, ROUTES
from templates.openapi import document, path_of
from tests import checkout
from tests.cfn import ROOT
from tests.handlers import api_event, load_handler

SCHEMA_FILE = ROOT / "functions" / "shared" / "items_common" / "item_schema.json"
ROUTE_IDS = [spec.name for spec in ROUTES]
SUCCESS_WITH_BODY = {200, 201}


@pytest.fixture(scope="module")
def doc() -> dict:
    return document()


def _operation(doc: dict, spec) -> dict:
    return doc["paths"][path_of(spec, COLLECTION)][spec.method.lower()]


def _resolve(doc: dict, node: dict) -> dict:
    """A `$ref` to a component, followed (once is all the document nests)."""
    if "$ref" not in node:
        return node
    kind, name = node["$ref"].removeprefix("#/components/").split("/")
    return doc["components"][kind][name]


def _parameter_names(doc: dict, operation: dict) -> list[tuple[str, str]]:
    parameters = [_resolve(doc, p) for p in operation.get("parameters", [])]
    return [(p["in"], p["name"]) for p in parameters]


@pytest.mark.parametrize("prefix", [COLLECTION, "data"])
def test_the_document_is_valid_openapi_3_0(prefix):
    spec = document(prefix)
    assert spec["openapi"] == "3.0.3"
    validate(spec)


@pytest.mark.parametrize("spec", ROUTES, ids=ROUTE_IDS)
def test_every_route_is_one_operation_with_exactly_its_statuses(doc, spec):
    operation = _operation(doc, spec)
    assert operation["operationId"] == spec.name
    assert operation["summary"] == spec.description
    assert spec.statuses, f"{spec.name}: the catalog row lists no statuses"
    assert set(operation["responses"]) == {str(s) for s in (*spec.statuses, 500)}


def test_the_document_has_no_operation_without_a_route(doc):
    documented = {(path, method.upper()) for path, item in doc["paths"].items() for method in item}
    assert documented == {(path_of(s, COLLECTION), s.method) for s in ROUTES}
    assert {"/", "/openapi.json", "/items", "/items/{id}", "/items/{id}/versions"} == set(
        doc["paths"]
    )


# operationId -> the parameters it takes (in, name), in order.
PARAMETERS = {
    "health": [],
    "openapi": [],
    "list_items": [("query", "limit"), ("query", "next_token")],
    "get_item": [("path", "id")],
    "create_item": [("header", "Idempotency-Key")],
    "update_item": [("path", "id"), ("header", "If-Match")],
    "patch_item": [("path", "id"), ("header", "If-Match")],
    "delete_item": [("path", "id"), ("header", "If-Match")],
    "list_versions": [("path", "id"), ("query", "limit"), ("query", "next_token")],
}


@pytest.mark.parametrize("spec", ROUTES, ids=ROUTE_IDS)
def test_every_operation_takes_exactly_its_parameters(doc, spec):
    assert _parameter_names(doc, _operation(doc, spec)) == PARAMETERS[spec.name]


def test_the_parameters_carry_the_handlers_rules(doc):
    parameters = doc["components"]["parameters"]
    assert parameters["Id"]["required"] is True
    assert parameters["Id"]["schema"] == {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"}
    assert parameters["Limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100}
    assert parameters["NextToken"]["schema"] == {"type": "string"}
    assert parameters["IfMatch"]["schema"] == {"type": "string"}
    assert parameters["IdempotencyKey"]["schema"]["pattern"] == "^[A-Za-z0-9._:-]{1,128}$"
    assert not any(p["required"] for n, p in parameters.items() if n != "Id")


@pytest.mark.parametrize("name", ["create_item", "update_item"])
def test_post_and_put_bodies_are_the_item_schema_file(doc, name):
    [spec] = [s for s in ROUTES if s.name == name]
    body = _operation(doc, spec)["requestBody"]
    assert body["required"] is True
    assert list(body["content"]) == ["application/json"]
    expected = json.loads(SCHEMA_FILE.read_text())
    del expected["$schema"]
    assert _resolve(doc, body["content"]["application/json"]["schema"]) == expected


def test_patch_takes_a_merge_patch_of_the_item_schema(doc):
    [spec] = [s for s in ROUTES if s.method == "PATCH"]
    body = _operation(doc, spec)["requestBody"]
    assert set(body["content"]) == {"application/merge-patch+json", "application/json"}
    [schema] = {json.dumps(_resolve(doc, c["schema"])) for c in body["content"].values()}
    patch = json.loads(schema)
    item = json.loads(SCHEMA_FILE.read_text())
    assert patch["maxProperties"] == item["maxProperties"]
    assert patch["properties"].keys() == item["properties"].keys()
    for name, prop in item["properties"].items():
        nullable = "type" in prop and name != "id"
        assert patch["properties"][name] == ({**prop, "nullable": True} if nullable else prop)
    # The body validates as the OAS 3.0 schema says: null removes, server fields stay refused.
    checker = jsonschema.Draft4Validator(_nullable_to_draft4(patch))
    assert checker.is_valid({"file_content": None, "color": None, "size": 3})
    assert not checker.is_valid({"created_at": None})
    assert not checker.is_valid({"id": None})


@pytest.mark.parametrize("spec", ROUTES, ids=ROUTE_IDS)
def test_every_response_has_its_body_schema(doc, spec):
    for status, response in _operation(doc, spec)["responses"].items():
        if int(status) >= 400:
            assert response["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }, status
        elif int(status) == 204:
            assert "content" not in response
        else:
            assert int(status) in SUCCESS_WITH_BODY
            assert response["content"]["application/json"]["schema"]["$ref"]


# operationId -> the schema of its success body, and whether it carries the item's ETag.
SUCCESS = {
    "health": ("Health", False),
    "openapi": ("OpenApiDocument", False),
    "list_items": ("ItemPage", False),
    "get_item": ("Item", True),
    "create_item": ("Item", True),
    "update_item": ("Item", True),
    "patch_item": ("Item", True),
    "delete_item": (None, False),
    "list_versions": ("VersionPage", False),
}


@pytest.mark.parametrize("spec", ROUTES, ids=ROUTE_IDS)
def test_success_bodies_and_etags(doc, spec):
    schema, etag = SUCCESS[spec.name]
    [status] = [s for s in spec.statuses if s < 300]
    response = _operation(doc, spec)["responses"][str(status)]
    content = response.get("content", {}).get("application/json", {})
    assert content.get("schema", {}).get("$ref", "").rsplit("/", 1)[-1] == (schema or "")
    assert ("ETag" in response.get("headers", {})) is etag


# A schema name, a body the API sends, and whether it must match.
BODIES = [
    ("Error", {"error": {"code": "NOT_FOUND", "message": "no item x"}}, True),
    ("Error", {"message": "no item x"}, False),
    ("Error", {"error": {"code": "NOT_FOUND"}}, False),
    ("Item", {"id": "a", "version": 1, "created_at": "t", "updated_at": "t", "color": "red"}, True),
    ("Item", {"id": "a", "created_at": "t", "updated_at": "t"}, False),
    ("Item", {"id": "a", "version": "1", "created_at": "t", "updated_at": "t"}, False),
    ("Health", {"status": "ok", "stage": "dev"}, True),
    ("Health", {"status": "ok"}, False),
    (
        "VersionPage",
        {"items": [{"id": "a", "version": 2, "deleted": True}], "count": 1, "next_token": None},
        True,
    ),
    ("ItemPage", {"items": [], "count": 0}, False),
]


@pytest.mark.parametrize(("name", "body", "valid"), BODIES)
def test_response_schemas_accept_what_the_api_sends(doc, name, body, valid):
    components = {"components": doc["components"]}
    schema = {**_nullable_to_draft4(doc["components"]["schemas"][name]), **components}
    assert jsonschema.Draft4Validator(schema).is_valid(body) is valid


def _nullable_to_draft4(node):
    """OAS 3.0's `nullable`, anywhere in a schema tree, as draft-04's type list, so jsonschema
    can check sample bodies the way an OpenAPI client reads the schema."""
    if isinstance(node, list):
        return [_nullable_to_draft4(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable_to_draft4(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        out["type"] = [node["type"], "null"]
    return out


def test_the_document_has_no_api_gateway_specifics(doc):
    text = json.dumps(doc)
    assert "x-amazon" not in text
    assert "execute-api" not in text


DOCUMENT_BYTES = (
    "import sys, build\n"
    "from templates.openapi import document\n"
    "sys.stdout.buffer.write(build.openapi_json() + build.dump_json(document('data')))\n"
)


def test_the_document_is_deterministic_across_processes():
    """Two interpreters with different string-hash seeds (set and dict order of str keys, the
    usual source of drift) write the same bytes, for the default prefix and another; a
    comparison within one process could not see that."""

    def written(seed: str) -> bytes:
        return subprocess.run(
            [sys.executable, "-c", DOCUMENT_BYTES],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            check=True,
        ).stdout

    first = written("1")
    assert first.startswith(b"{") and first == written("2")


@pytest.fixture(scope="module")
def dist() -> Path:
    """dist/ as `build.py` writes it; built here only when absent (one test worker at a time)."""
    out = ROOT / "dist"
    with checkout.locked():
        if not (out / "openapi.json").exists() or not (out / "manifest.json").exists():
            subprocess.run([sys.executable, str(ROOT / "build.py"), "--quiet"], check=True)
    return out


def _openapi_zip(dist: Path) -> Path:
    manifest = json.loads((dist / "manifest.json").read_text())
    return dist / manifest["artifacts"]["openapi"]["file"]


def test_dist_openapi_json_is_the_document(dist):
    data = (dist / "openapi.json").read_bytes()
    assert data == build.dump_json(document()), "dist/ is stale: run `.venv/bin/python build.py`"
    manifest = json.loads((dist / "manifest.json").read_text())
    assert manifest["openapi"]["file"] == "openapi.json"
    assert manifest["openapi"]["size"] == len(data)
    with zipfile.ZipFile(_openapi_zip(dist)) as zf:
        sources = [n for n in zf.namelist() if not n.startswith("__pycache__/")]
        assert sources == ["app.py", "openapi.json"]
        assert zf.read("openapi.json") == data


def test_the_build_refuses_a_hand_written_openapi_json(tmp_path, monkeypatch):
    (tmp_path / "openapi").mkdir()
    (tmp_path / "openapi" / "app.py").write_text("")
    (tmp_path / "openapi" / "openapi.json").write_text("{}")
    monkeypatch.setattr(build, "FUNCTIONS_DIR", tmp_path)
    with pytest.raises(build.BuildError, match=r"openapi\.json: the build generates"):
        build.artifact_entries("openapi")


@pytest.mark.parametrize("prefix", [None, COLLECTION, "data", "items-v2"])
def test_the_function_serves_the_document_for_its_prefix(
    dist, tmp_path, monkeypatch, aws_env, lambda_context, prefix
):
    """The handler as Lambda runs it: from its zip, with the template's ROUTE_PREFIX."""
    with zipfile.ZipFile(_openapi_zip(dist)) as zf:
        zf.extractall(tmp_path / "openapi")
    if prefix is None:
        monkeypatch.delenv("ROUTE_PREFIX", raising=False)
    else:
        monkeypatch.setenv("ROUTE_PREFIX", prefix)
    handler = load_handler("openapi", functions_dir=tmp_path)

    response = handler.lambda_handler(api_event("GET", "/openapi.json"), lambda_context)

    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json"
    served = json.loads(response["body"])
    assert served == document(prefix or COLLECTION)
    collection = [p for p in served["paths"] if p not in {"/", "/openapi.json"}]
    assert collection and all(p.startswith(f"/{prefix or COLLECTION}") for p in collection)
