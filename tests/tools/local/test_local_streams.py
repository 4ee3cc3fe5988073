"""tools.local.streams: the event source mapping as `make local` runs it, read from the template and
driven with a scripted function (batches, partial batch responses, bisecting, retries, the
failure queue). The real stream on moto is exercised end to end by test_local_server.py."""

from typing import Any

import pytest

from templates.catalog import FUNCTIONS
from templates.naming import logical_id
from tools.local import streams


def test_the_templates_mapping_is_read_with_its_settings(template):
    values = {"StreamMaxRetries": "4", "StreamMaxRecordAgeSeconds": "3600"}
    [mapping] = streams.read_mappings(template, values)
    consumers = [f.name for f in FUNCTIONS if not f.method]
    assert mapping.function_id in {logical_id(name, "function") for name in consumers}
    assert mapping.table_id == logical_id("items", "table")
    assert (mapping.batch_size, mapping.max_retries) == (10, 4)
    assert mapping.bisect and mapping.partial_batches
    assert mapping.starting_position == "TRIM_HORIZON"
    assert mapping.on_failure == logical_id("failure", "queue")


def record(n: int) -> dict[str, Any]:
    return {"eventID": f"e{n}", "dynamodb": {"SequenceNumber": str(100 + n), "Keys": {}}}


class FakeStreams:
    """One shard whose records are handed out once."""

    def __init__(self, count: int) -> None:
        self.records = [record(n) for n in range(count)]

    def describe_stream(self, StreamArn: str) -> dict:
        return {"StreamDescription": {"Shards": [{"ShardId": "s1"}]}}

    def get_shard_iterator(self, **_: Any) -> dict:
        return {"ShardIterator": "it-0"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict:
        start = int(ShardIterator.split("-")[1])
        batch = self.records[start : start + Limit]
        return {"Records": batch, "NextShardIterator": f"it-{start + len(batch)}"}


class FakeSqs:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def send_message(self, QueueUrl: str, MessageBody: str) -> None:
        self.messages.append(MessageBody)


def run(mapping: streams.StreamMapping, count: int, answer) -> tuple[list[list[str]], FakeSqs]:
    """Poll until the stream is drained; return the event ids of every invocation."""
    calls: list[list[str]] = []

    def invoke(_: str, event: dict) -> Any:
        ids = [r["eventID"] for r in event["Records"]]
        calls.append(ids)
        return answer(ids, len(calls))

    sqs = FakeSqs()
    poller = streams.StreamPoller(
        mapping, "arn:stream", invoke, FakeStreams(count), sqs, "queue-url", log=lambda _: None
    )
    for _ in range(50):
        poller.poll()
        if not poller.pending:
            break
    return calls, sqs


MAPPING = streams.StreamMapping(
    function_id="Fn", table_id="T", batch_size=4, max_retries=2, bisect=True,
    partial_batches=True, starting_position="TRIM_HORIZON", on_failure="Q",
)  # fmt: skip


def ok(ids: list[str], call: int) -> dict:
    return {"batchItemFailures": []}


def fail_e2_once(ids: list[str], call: int) -> dict:
    failed = [{"itemIdentifier": "102"}] if "e2" in ids and call == 1 else []
    return {"batchItemFailures": failed}


def always_raise(ids: list[str], call: int) -> dict:
    raise RuntimeError("boom")


def raise_with_e1(ids: list[str], call: int) -> dict:
    if "e1" in ids:
        raise RuntimeError("poison")
    return {}


@pytest.mark.parametrize(
    ("answer", "expected_calls", "queued"),
    [
        (ok, [["e0", "e1", "e2", "e3"], ["e4", "e5"]], 0),
        # a partial batch response: e0 and e1 are done, the batch is retried from e2
        (fail_e2_once, [["e0", "e1", "e2", "e3"], ["e2", "e3", "e4", "e5"]], 0),
        # a raising function: halved (bisect) on each retry, then the batch is given up
        (always_raise, [["e0", "e1", "e2", "e3"], ["e0", "e1"], ["e0"],
                        ["e1"], ["e1"], ["e1"], ["e2"], ["e2"], ["e2"], ["e3"], ["e3"], ["e3"],
                        ["e4", "e5"], ["e4"], ["e4"], ["e5"], ["e5"], ["e5"]], 6),
        # bisecting isolates the poison record; the rest goes through
        (raise_with_e1, [["e0", "e1", "e2", "e3"], ["e0", "e1"], ["e0"], ["e1"], ["e1"],
                         ["e1"], ["e2"], ["e3"], ["e4", "e5"]], 1),
    ],
    ids=["all-ok", "partial-batch", "always-failing", "one-poison-record"],
)  # fmt: skip
def test_delivery_follows_lambdas_rules(answer, expected_calls, queued):
    calls, sqs = run(MAPPING, 6, answer)
    assert calls == expected_calls
    assert len(sqs.messages) == queued


def test_a_given_up_batch_is_described_on_the_failure_queue():
    _, sqs = run(MAPPING, 1, always_raise)
    [message] = sqs.messages
    assert '"condition": "RetryAttemptsExhausted"' in message
    assert '"startSequenceNumber": "100"' in message and '"batchSize": 1' in message
