"""`make local` end to end, over HTTP: the test starts it on a free loopback port (stage dev, a
LOCAL_DATA file) and talks to it as a user with curl would; the local AWS it prints is read with
boto3 to see the stream consumer's and the attachments' effects."""

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest

from templates.naming import logical_id
from tests.local_process import LocalApi, request

pytestmark = pytest.mark.slow  # make local, over HTTP

STAGE = "dev"
STACK = f"items-api-{STAGE}"


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("local") / "data.json"


@pytest.fixture(scope="module")
def server(data_file):
    running = LocalApi(STAGE, LOCAL_DATA=str(data_file))
    running.wait_ready()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def aws(server) -> dict[str, Any]:
    """boto3 clients on the local AWS, and the stack's physical IDs."""

    def client(service: str) -> Any:
        return boto3.client(
            service, endpoint_url=server.aws_endpoint(), region_name="us-west-2",
            aws_access_key_id="local", aws_secret_access_key="local",
        )  # fmt: skip

    listed = client("cloudformation").describe_stack_resources(StackName=STACK)["StackResources"]
    physical = {
        r["LogicalResourceId"]: r.get("PhysicalResourceId")
        for r in listed
        if r.get("LogicalResourceId")  # moto omits it for the types it skips
    }
    return {"s3": client("s3"), "physical": physical}


def test_the_banner_gives_the_url_and_a_curl_example(server):
    text = server.output()
    assert f"items-api local, stage {STAGE}: {server.base}" in text
    assert f"curl -s -X POST {server.base}/items" in text


def test_crud_round_trip(server):
    status, head, created = request(server, "POST", "/items", {"id": "crud", "colour": "red"})
    assert (status, created["colour"], created["version"], head["ETag"]) == (201, "red", 1, '"1"')
    assert request(server, "GET", "/items/crud")[2]["colour"] == "red"
    status, _, replaced = request(
        server, "PUT", "/items/crud", {"colour": "blue"}, {"If-Match": '"1"'}
    )
    assert (status, replaced["colour"], replaced["version"]) == (200, "blue", 2)
    assert request(server, "PUT", "/items/crud", {"colour": "x"}, {"If-Match": '"1"'})[0] == 412
    status, _, patched = request(server, "PATCH", "/items/crud", {"colour": None, "size": 3})
    assert (status, "colour" in patched, patched["size"], patched["version"]) == (200, False, 3, 3)
    assert request(server, "DELETE", "/items/crud")[0] == 204
    status, _, missing = request(server, "GET", "/items/crud")
    assert (status, missing["error"]["code"]) == (404, "NOT_FOUND")


def test_bad_input_is_a_4xx_json_body(server):
    req = urllib.request.Request(
        server.base + "/items", data=b"{not json", method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=30)
    assert refused.value.code == 400
    assert json.loads(refused.value.read())["error"]["code"] == "INVALID_JSON"


@pytest.mark.parametrize("path", ["/items", "/items/some-id"])
def test_cors_preflight_and_headers(server, path):
    status, head, _ = request(server, "OPTIONS", path)
    assert status == 204
    assert head["Access-Control-Allow-Origin"] == "*"  # params/dev.json's CorsAllowOrigin
    assert "Content-Type" in head["Access-Control-Allow-Headers"]
    assert request(server, "GET", "/items")[1]["Access-Control-Allow-Origin"] == "*"


# API Gateway REST answers an unknown path and a method the resource lacks alike: 403
# {"message": "Missing Authentication Token"}; so does make local.
@pytest.mark.parametrize(("method", "path"), [("GET", "/nowhere"), ("DELETE", "/items"),
                                              ("POST", "/items/x/versions")])  # fmt: skip
def test_unknown_routes_and_methods_answer_as_api_gateway_does(server, method, path):
    status, head, body = request(server, method, path)
    assert (status, body) == (403, {"message": "Missing Authentication Token"})
    assert head["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_pagination_returns_each_item_once(server):
    ids = {f"page-{i:02}" for i in range(23)}
    for item_id in ids:
        assert request(server, "POST", "/items", {"id": item_id})[0] == 201
    seen, token = [], None
    for _ in range(50):
        query = "/items?limit=5" + (f"&next_token={token}" if token else "")
        status, _, page = request(server, "GET", query)
        assert status == 200 and page["count"] <= 5
        seen += [i["id"] for i in page["items"] if i["id"].startswith("page-")]
        token = page["next_token"]
        if token is None:
            break
    assert sorted(seen) == sorted(ids)


def test_an_attachment_round_trip(server, aws):
    created = request(server, "POST", "/items", {"id": "att", "file_content": "hello file"})[2]
    assert created["file_content"] == "hello file"
    assert request(server, "GET", "/items/att")[2]["file_content"] == "hello file"
    bucket = aws["physical"][logical_id("items", "bucket")]
    listed = aws["s3"].list_objects_v2(Bucket=bucket, Prefix="items/att/")["Contents"]
    keys = [o["Key"] for o in listed]
    assert len(keys) == 1
    body = aws["s3"].get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    assert body == b"hello file"


def test_the_stream_consumer_writes_the_audit_trail(server, aws):
    """A write reaches the stream consumer as the event source mapping would deliver it: an
    audit object for its INSERT appears in the bucket."""
    request(server, "POST", "/items", {"id": "audited", "n": 1})
    bucket = aws["physical"][logical_id("items", "bucket")]
    deadline = time.monotonic() + 30
    found = []
    while time.monotonic() < deadline and not found:
        for entry in aws["s3"].list_objects_v2(Bucket=bucket, Prefix="audit/").get("Contents", []):
            audit = json.loads(aws["s3"].get_object(Bucket=bucket, Key=entry["Key"])["Body"].read())
            if audit["keys"] == {"id": "audited"} and audit["event_name"] == "INSERT":
                found.append(audit)
        time.sleep(0.2)
    assert found, server.output()[-3000:]
    assert found[0]["new_image"]["n"] == 1


def test_the_stream_consumer_commits_attachments_and_deletes_replaced_ones(server, aws):
    """Attachment upkeep runs locally too (items_common.upkeep): the object a POST wrote loses
    its pending tag, and the one a PUT replaced is deleted (the stage is in plain mode)."""
    s3, bucket = aws["s3"], aws["physical"][logical_id("items", "bucket")]

    def objects() -> dict[str, list]:
        """Each object with its tags; one deleted between the listing and its tags is left out
        (the consumer works meanwhile)."""
        found = {}
        for o in s3.list_objects_v2(Bucket=bucket, Prefix="items/upkept/").get("Contents", []):
            try:
                found[o["Key"]] = s3.get_object_tagging(Bucket=bucket, Key=o["Key"])["TagSet"]
            except s3.exceptions.NoSuchKey:
                continue
        return found

    def settled(expected: int) -> dict[str, list]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = objects()
            if len(found) == expected and all(tags == [] for tags in found.values()):
                return found
            time.sleep(0.2)
        raise AssertionError(f"{objects()}\n{server.output()[-3000:]}")

    request(server, "POST", "/items", {"id": "upkept", "file_content": "one"})
    [first] = settled(1)
    request(server, "PUT", "/items/upkept", {"file_content": "two"})
    [second] = settled(1)
    assert second != first
    assert request(server, "GET", "/items/upkept")[2]["file_content"] == "two"


def test_every_request_is_logged_on_the_console(server):
    request(server, "GET", "/items/logged-id")
    time.sleep(0.2)
    [line] = [x for x in server.lines if x.startswith("GET /items/logged-id 404 ")]
    assert line.endswith(" ms")


def test_local_data_survives_a_restart(server, data_file):
    """Last in this module: stops the server. LOCAL_DATA is written on Ctrl-C and read back."""
    request(server, "POST", "/items", {"id": "kept", "file_content": "still here"})
    server.stop()  # make itself then reports the interrupt, as at a terminal
    assert "stopped" in server.lines and "Traceback" not in server.output()
    saved = json.loads(data_file.read_text())
    assert saved["format"] == "items-api-local/1"
    again = LocalApi(STAGE, LOCAL_DATA=str(data_file))
    again.wait_ready()
    try:
        status, _, item = request(again, "GET", "/items/kept")
        assert (status, item["file_content"], item["version"]) == (200, "still here", 1)
    finally:
        again.stop()
    assert "stopped" in again.lines and "Traceback" not in again.output()


def test_a_bad_stage_is_refused_before_anything_starts(tmp_path):
    bad = LocalApi("staging", LOCAL_DATA=str(tmp_path / "unused.json"))
    code = bad.process.wait(timeout=120)
    bad._reader.join(timeout=10)
    assert code != 0
    assert "'staging' is not a stage; stages are: dev, test, prod" in bad.output()
    assert not (tmp_path / "unused.json").exists()


def test_a_local_data_file_that_is_not_ours_is_refused_and_kept(tmp_path):
    foreign = tmp_path / "notes.json"
    foreign.write_text('{"todo": ["keep me"]}')
    bad = LocalApi(STAGE, LOCAL_DATA=str(foreign))
    code = bad.process.wait(timeout=120)
    bad._reader.join(timeout=10)
    assert code != 0
    assert f"{foreign}: not a LOCAL_DATA file" in bad.output()
    assert foreign.read_text() == '{"todo": ["keep me"]}'
