"""The API against a model: hypothesis drives random sequences of create, get, put, patch, delete
and list through tools.local (the template's routes, the real handlers, moto), and after every step
the API must agree with a plain dictionary of what it should hold.

Each run of the machine works under its own id prefix and empties the table when it ends, so
runs share one moto stack without seeing each other. `make test` runs a quick profile
(MODEL_EXAMPLES, default 20 runs); `make fuzz` runs 500."""

import copy
import json
import os
import uuid
from typing import Any

import hypothesis
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule
from werkzeug.test import Client

from tools.local import LocalApi

pytestmark = pytest.mark.slow  # hypothesis state machines through the emulator

EXAMPLES = int(os.environ.get("MODEL_EXAMPLES", "20"))
SERVER_FIELDS = {"id", "version", "created_at", "updated_at"}

names = st.sampled_from(["a", "b", "colour", "size", "nested", "tags"])
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.text(max_size=8),
)
values = st.recursive(
    scalars.filter(lambda v: v is not None),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(names, inner, max_size=3)),
    max_leaves=6,
)
bodies = st.dictionaries(names, values, max_size=4)
patches = st.dictionaries(names, st.one_of(st.none(), values), max_size=4)


def merge_patch(target: Any, patch: Any) -> Any:
    """The model's own JSON merge patch: RFC 7396's pseudo-code (section 2) line by line, on a
    copy (the model's items and hypothesis's values are never changed in place)."""

    def merge(target: Any, patch: Any) -> Any:
        if isinstance(patch, dict):
            if not isinstance(target, dict):
                target = {}
            for name, value in patch.items():
                if value is None:
                    if name in target:
                        del target[name]
                else:
                    target[name] = merge(target.get(name), value)
            return target
        return patch

    return merge(copy.deepcopy(target), patch)


def attributes(item: dict) -> dict:
    return {k: v for k, v in item.items() if k not in SERVER_FIELDS}


class ItemsModel(RuleBasedStateMachine):
    """What the API holds under this run's prefix: id -> (attributes, version)."""

    client: Client  # set by the test, one per stack
    table: Any  # the stack's table (boto3 Table), emptied after each run

    runs = 0  # counted for the report
    steps = 0

    def __init__(self) -> None:
        super().__init__()
        ItemsModel.runs += 1
        self.prefix = uuid.uuid4().hex[:8]
        self.model: dict[str, tuple[dict, int]] = {}

    ids = Bundle("ids")

    @initialize(target=ids)
    def first_id(self):
        return f"{self.prefix}-0"

    @rule(target=ids, n=st.integers(1, 5))
    def another_id(self, n):
        return f"{self.prefix}-{n}"

    def call(self, method: str, path: str, body: Any = None, **headers: str):
        data = None if body is None else json.dumps(body)
        response = self.client.open(
            path, method=method, data=data, headers={"Content-Type": "application/json", **headers}
        )
        ItemsModel.steps += 1
        assert response.status_code < 500, (method, path, response.status_code, response.text)
        return response.status_code, (response.json if response.data else None)

    @rule(item_id=ids, body=bodies)
    def create(self, item_id, body):
        status, answer = self.call("POST", "/items", {**body, "id": item_id})
        if item_id in self.model:
            assert status == 409, answer
        else:
            assert status == 201, answer
            assert attributes(answer) == body and answer["version"] == 1
            self.model[item_id] = (body, 1)

    @rule(item_id=ids)
    def get(self, item_id):
        status, answer = self.call("GET", f"/items/{item_id}")
        if item_id not in self.model:
            assert status == 404, answer
        else:
            expected, version = self.model[item_id]
            assert status == 200, answer
            assert (attributes(answer), answer["version"]) == (expected, version)

    def _precondition(self, item_id: str, choice: str) -> tuple[dict, bool]:
        """If-Match headers for `choice`, and whether they name a stale version."""
        version = self.model.get(item_id, ({}, 1))[1]
        if choice == "current":
            return {"If-Match": f'"{version}"'}, False
        if choice == "stale":
            return {"If-Match": str(version + 1)}, True
        return {}, False

    def _conditional(
        self, method: str, item_id: str, choice: str, done: int, body: dict | None = None
    ) -> tuple[bool, Any]:
        """A request to the item under the If-Match of `choice`: it must answer 404 for a
        missing item, 412 for a stale If-Match, else `done`. Whether it was done, the answer."""
        headers, stale = self._precondition(item_id, choice)
        status, answer = self.call(method, f"/items/{item_id}", body, **headers)
        expected = 404 if item_id not in self.model else 412 if stale else done
        assert status == expected, answer
        return status == done, answer

    def _write(self, method: str, item_id: str, body: dict, choice: str, result) -> None:
        """PUT or PATCH (_conditional's answers): when done, the item becomes
        result(current attributes) at the next version."""
        done, answer = self._conditional(method, item_id, choice, 200, body)
        if done:
            current, version = self.model[item_id]
            expected = (result(current), version + 1)
            assert (attributes(answer), answer["version"]) == expected
            self.model[item_id] = expected

    @rule(item_id=ids, body=bodies, choice=st.sampled_from(["none", "current", "stale"]))
    def put(self, item_id, body, choice):
        self._write("PUT", item_id, body, choice, lambda _: body)

    @rule(item_id=ids, patch=patches, choice=st.sampled_from(["none", "current", "stale"]))
    def patch(self, item_id, patch, choice):
        self._write("PATCH", item_id, patch, choice, lambda current: merge_patch(current, patch))

    @rule(item_id=ids, choice=st.sampled_from(["none", "current", "stale"]))
    def delete(self, item_id, choice):
        done, _ = self._conditional("DELETE", item_id, choice, 204)
        if done:
            del self.model[item_id]

    @rule(limit=st.integers(1, 4))
    def list_all(self, limit):
        """Every page, to the end: this run's items, each exactly once."""
        seen, token = [], None
        for _ in range(1000):
            query = f"limit={limit}" + (f"&next_token={token}" if token else "")
            status, answer = self.call("GET", f"/items?{query}")
            assert status == 200, answer
            seen += [i["id"] for i in answer["items"] if i["id"].startswith(self.prefix)]
            token = answer["next_token"]
            if token is None:
                break
        assert sorted(seen) == sorted(self.model)

    def teardown(self):
        """Empty the table, so every run starts from nothing and listings stay short (rows
        left by earlier runs would make each run's full listing longer than the last)."""
        keys = [k["AttributeName"] for k in self.table.key_schema]
        scan: dict = {"ConsistentRead": True}
        while True:
            page = self.table.scan(**scan)
            with self.table.batch_writer() as batch:
                for row in page["Items"]:
                    batch.delete_item(Key={k: row[k] for k in keys})
            if "LastEvaluatedKey" not in page:
                return
            scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @invariant()
    def versions_are_positive(self):
        assert all(version >= 1 for _, version in self.model.values())


@pytest.mark.parametrize("sort_key", ["", "timestamp"], ids=["plain", "history"])
def test_the_api_agrees_with_a_dictionary(template, make_stack, tmp_path, sort_key):
    stack = make_stack(SortKeyName=sort_key)
    api = LocalApi(template, stack.parameters, stage="test")
    ItemsModel.client = Client(api)
    ItemsModel.table = stack.table
    runner = ItemsModel.TestCase
    runner.settings = hypothesis.settings(
        max_examples=EXAMPLES,
        stateful_step_count=20,
        deadline=None,
        database=None,
        derandomize=os.environ.get("FUZZ_SEED") is None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    ItemsModel.runs = ItemsModel.steps = 0
    runner().runTest()
    assert ItemsModel.runs >= EXAMPLES
    print(f"model ({sort_key or 'plain'}): {ItemsModel.runs} runs, {ItemsModel.steps} requests")
