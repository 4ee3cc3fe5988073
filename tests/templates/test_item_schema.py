"""item_schema.json is the one source of a POST/PUT body's shape: API Gateway validates with the
file, the handlers with items_common.validation. These tests hold the two to the same verdicts,
and keep the file something API Gateway accepts (draft-04, no $ref)."""

import json
from typing import Any

import fastjsonschema
import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from items_common import errors, model, validation
from tests import cfn
from tests.handler_client import all_items, create, get, post, put
from tests.handlers import api_event

SCHEMA_FILE = cfn.ROOT / "functions" / "shared" / "items_common" / "item_schema.json"
ID_RULE = "^[A-Za-z0-9._-]{1,128}$"


def _raw_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def _attributes(count: int) -> str:
    return json.dumps({f"a{i}": i for i in range(count)})


def test_the_handlers_use_the_file_api_gateway_uses():
    assert _raw_schema() == validation.ITEM_SCHEMA
    assert validation.ID_PATTERN.pattern == _raw_schema()["properties"]["id"]["pattern"]


# Keywords API Gateway's draft-04 models do not support (and $ref, which needs a model URL).
NOT_DRAFT_04 = {"$ref", "$id", "const", "contains", "propertyNames", "if", "then", "else"}


def _keys(node: object) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in _keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in _keys(v)}
    return set()


def test_the_schema_is_plain_draft_04():
    schema = _raw_schema()
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert not _keys(schema) & NOT_DRAFT_04


def test_the_server_fields_are_the_ones_the_schema_forbids():
    forbidden = {n for n, rule in _raw_schema()["properties"].items() if "not" in rule}
    assert forbidden == model.SERVER_FIELDS


SHAPES = [
    # (id, body, the schema accepts it)
    ("empty", "{}", True),
    ("id-and-attributes", '{"id": "a", "v": 1, "n": null, "b": true}', True),
    ("id-every-character", '{"id": "A.b_c-9"}', True),
    ("id-128", '{"id": "' + "x" * 128 + '"}', True),
    ("id-129", '{"id": "' + "x" * 129 + '"}', False),
    ("id-empty", '{"id": ""}', False),
    ("id-space", '{"id": "a b"}', False),
    ("id-trailing-newline", '{"id": "line\\n"}', False),
    ("id-non-ascii", '{"id": "ü"}', False),
    ("id-number", '{"id": 5}', False),
    ("id-null", '{"id": null}', False),
    ("id-array", '{"id": ["a"]}', False),
    ("file-content-string", '{"file_content": "x"}', True),
    ("file-content-number", '{"file_content": 5}', False),
    ("file-content-decimal", '{"file_content": 1.5}', False),
    ("file-content-null", '{"file_content": null}', False),
    ("file-content-object", '{"file_content": {"a": 1}}', False),
    ("created-at", '{"created_at": "2020-01-01T00:00:00.000000Z"}', False),
    ("updated-at-null", '{"updated_at": null}', False),
    ("file-key", '{"file_key": "items/x/y"}', False),
    ("100-attributes", _attributes(100), True),
    ("101-attributes", _attributes(101), False),
    ("array", "[1]", False),
    ("string", '"text"', False),
    ("number", "42", False),
    ("null", "null", False),
    ("numbers-are-not-the-schemas-concern", '{"a": 1e400, "b": [0.1, {"c": -0}]}', True),
    ("names-are-case-sensitive", '{"ID": 5, "Created_At": 1, "FILE_KEY": 2}', True),
    ("top-level-only", '{"a": {"id": 5, "created_at": 1, "file_content": 2}}', True),
]


@pytest.mark.parametrize(("body", "valid"), [s[1:] for s in SHAPES], ids=[s[0] for s in SHAPES])
def test_the_handlers_validator_and_the_file_agree(body, valid):
    """The raw file (plain JSON numbers, as API Gateway sees them) and the handler's validator
    (numbers as Decimals, as parse_json returns them) give the expected verdict."""
    file_validator = fastjsonschema.compile(_raw_schema())
    try:
        file_validator(json.loads(body))
        file_accepts = True
    except fastjsonschema.JsonSchemaValueException:
        file_accepts = False
    parsed = validation.parse_json(body.encode())
    try:
        assert validation.check_item_shape(parsed) is parsed
        handler_accepts = True
    except errors.InvalidItem:
        handler_accepts = False
    assert (file_accepts, handler_accepts) == (valid, valid)


BAD_BODIES = [  # a body, and the message the client sees
    pytest.param('{"id": 5}', "id: must be a string", id="id-number"),
    pytest.param('{"id": null}', "id: must be a string", id="id-null"),
    pytest.param('{"id": "a b"}', f"id: must match {ID_RULE}", id="id-pattern"),
    pytest.param('{"id": "' + "x" * 129 + '"}', f"id: must match {ID_RULE}", id="id-too-long"),
    pytest.param(
        _attributes(101), "an item may have at most 100 attributes", id="too-many-attributes"
    ),
    pytest.param('{"created_at": "x"}', "created_at is set by the server", id="created-at"),
    pytest.param('{"v": 1, "updated_at": 1}', "updated_at is set by the server", id="updated-at"),
    pytest.param('{"file_key": "k"}', "file_key is set by the server", id="file-key"),
    pytest.param('{"file_content": 5}', "file_content: must be a string", id="file-content-number"),
    pytest.param(
        '{"file_content": {"a": 1}}', "file_content: must be a string", id="file-content-object"
    ),
    pytest.param("[1]", "body must be a JSON object", id="not-an-object"),
]


def _invalid_item(message: str) -> dict[str, str]:
    return {"code": "INVALID_ITEM", "message": message}


BAD_BODY_PARAMS = pytest.mark.parametrize(("body", "message"), BAD_BODIES)


@BAD_BODY_PARAMS
def test_post_refuses_a_body_the_schema_refuses(items_table, lambda_context, body, message):
    reply = post(lambda_context, body)
    assert (reply.status, reply.body["error"]) == (400, _invalid_item(message))
    assert all_items(items_table) == []


@BAD_BODY_PARAMS
def test_put_refuses_a_body_the_schema_refuses(items_table, lambda_context, body, message):
    before = create(lambda_context, {"id": "p", "v": 1})
    reply = put(lambda_context, "p", body)
    assert (reply.status, reply.body["error"]) == (400, _invalid_item(message))
    assert get(lambda_context, "p").body == before


GOOD_BODIES = [
    {"id": "good", "file_content": "hello", "n": 1.5, "nested": {"id": 5, "created_at": 1}},
    {"id": "x" * 128, **{f"a{i}": i for i in range(99)}},
]


@pytest.mark.parametrize("item", GOOD_BODIES, ids=["attachment-and-nesting", "widest"])
def test_a_body_the_schema_accepts_is_created_and_replaced(items_table, lambda_context, item):
    created = create(lambda_context, item)
    assert {k: v for k, v in created.items() if k not in ("created_at", "updated_at")} == {
        **item,
        "version": 1,
    }
    body = {k: v for k, v in item.items() if k != "file_content"}
    reply = put(lambda_context, item["id"], json.dumps(body))
    assert reply.status == 200, reply.raw


def test_the_table_key_names_are_still_refused_by_hand(monkeypatch):
    """A renamed partition key is runtime configuration the static schema cannot know."""
    monkeypatch.setenv("PARTITION_KEY", "itemId")
    assert validation.check_item_shape({"itemId": "x"}) == {"itemId": "x"}
    event = APIGatewayProxyEvent(api_event("POST", "/items", body='{"itemId": "x"}'))
    with pytest.raises(errors.InvalidItem, match=r"^itemId is set by the server$"):
        validation.item_body(event)
