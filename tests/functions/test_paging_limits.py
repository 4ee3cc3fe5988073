"""Listings are bounded and complete: no handler reads the table without a Limit (checked in the
source and on the wire), and paging through a large table returns every item exactly once."""

import ast
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.cfn import ROOT
from tests.handler_client import invoke
from tests.handlers import api_event, load_handler

FUNCTIONS = ROOT / "functions"
UNBOUNDED = ("scan", "query")  # DynamoDB reads that can run past one page


def _read_calls(tree: ast.AST) -> list[ast.Call]:
    """Calls that read the table page-wise: `x.scan(...)`, `x.query(...)`, and the dynamic
    `getattr(x, operation)(...)` that dynamo.paged makes."""
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        named = isinstance(func, ast.Attribute) and func.attr in UNBOUNDED
        dynamic = isinstance(func, ast.Call) and getattr(func.func, "id", None) == "getattr"
        if named or dynamic:
            calls.append(node)
    return calls


def _sources() -> list[Path]:
    return sorted(p for p in FUNCTIONS.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(FUNCTIONS)))
def test_no_handler_source_scans_or_queries_without_a_limit(path):
    for call in _read_calls(ast.parse(path.read_text())):
        keywords = {k.arg for k in call.keywords}
        assert "Limit" in keywords, f"{path}:{call.lineno} reads without Limit"


def test_the_source_check_finds_an_unbounded_scan():
    """The check above can fail: it flags a Scan without Limit and passes one with it."""
    bad = ast.parse("table().scan(ExclusiveStartKey=k)\ngetattr(t, op)(**kw)")
    good = ast.parse("table().scan(Limit=10)\ngetattr(t, op)(Limit=n, **kw)")
    assert [c for c in _read_calls(bad) if "Limit" not in {k.arg for k in c.keywords}]
    assert not [c for c in _read_calls(good) if "Limit" not in {k.arg for k in c.keywords}]


def _wire_reads(function: str) -> tuple[ModuleType, list[dict]]:
    """The freshly loaded handler, and every Scan/Query its own DynamoDB client will send."""
    handler = load_handler(function)
    dynamo = sys.modules["items_common.dynamo"]  # the copy that handler just loaded
    seen: list[dict] = []
    client = dynamo.table().meta.client
    for operation in ("Scan", "Query"):
        client.meta.events.register(
            f"provide-client-params.dynamodb.{operation}",
            lambda params, **_: seen.append(dict(params)),
        )
    return handler, seen


LISTINGS = [
    ("list_items", "/items", None),
    ("list_versions", "/items/a/versions", {"id": "a"}),
]


@pytest.mark.parametrize("sort_key", ["", "timestamp"], ids=["plain", "history"])
@pytest.mark.parametrize(("function", "path", "params"), LISTINGS, ids=[f for f, *_ in LISTINGS])
def test_every_listing_read_on_the_wire_has_a_limit(
    make_stack, lambda_context, sort_key, function, path, params
):
    stack = make_stack(SortKeyName=sort_key)
    invoke("create_item", api_event("POST", "/items", body='{"id": "a"}'), lambda_context)
    handler, seen = _wire_reads(function)
    event = api_event("GET", path, path_parameters=params, query={"limit": "7"})
    assert handler.lambda_handler(event, lambda_context)["statusCode"] == 200
    if function == "list_items" or sort_key:  # plain-mode versions is one GetItem
        assert seen, "no Scan or Query was observed"
    assert all(p.get("Limit") == 7 for p in seen), seen
    assert stack.table.name


ITEMS = 2500
PAGE = 100


def _fill(table, ids: list[str], lambda_context) -> None:
    """The first items through the API (so rows have the real shape), the rest as copies of
    those rows written in batches: 2,500 API calls on moto would take minutes."""
    for item_id in ids[:2]:
        event = api_event("POST", "/items", body=json.dumps({"id": item_id, "n": 1}))
        assert invoke("create_item", event, lambda_context).status == 201
    template_rows = table.scan(Limit=100)["Items"]
    key = next(iter(table.key_schema))["AttributeName"]
    with table.batch_writer() as batch:
        for item_id in ids[2:]:
            for row in template_rows:
                if row[key] == ids[0]:
                    batch.put_item(Item={**row, key: item_id})


@pytest.mark.parametrize("sort_key", ["", "timestamp"], ids=["plain", "history"])
def test_paging_2500_items_by_100_returns_each_exactly_once(make_stack, lambda_context, sort_key):
    stack = make_stack(SortKeyName=sort_key)
    ids = [f"item-{n:05d}" for n in range(ITEMS)]
    _fill(stack.table, ids, lambda_context)
    listed, token, pages = [], None, 0
    while True:
        query = {"limit": str(PAGE), **({"next_token": token} if token else {})}
        reply = invoke("list_items", api_event("GET", "/items", query=query), lambda_context)
        assert reply.status == 200, reply.raw
        assert reply.body["count"] <= PAGE
        listed += [item["id"] for item in reply.body["items"]]
        token, pages = reply.body["next_token"], pages + 1
        if token is None:
            break
        assert pages < 10 * ITEMS // PAGE, "paging does not end"
    assert sorted(listed) == ids  # every item, none twice
    assert pages >= ITEMS // PAGE
