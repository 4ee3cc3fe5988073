"""items_common's pure parts, value by value: the number policy, tokens, the error map and the
timestamps PUT locks on. (The handlers' behaviour is in test_handlers.py.)"""

import json
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from items_common import dynamo, errors, http, jsonify, model, numbers, pagination, rows


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "-0",
        "0.1",
        "1e20",
        "1" + "0" * 60,
        "9.9999999999999999999999999999999999999E+125",
        "1E-130",
        "12345678901234567890123456789012345678",
        "3.141592653589793",
        "-2.5e-7",
    ],
)
def test_storable_numbers_come_back_with_the_same_value(text):
    stored = numbers.to_stored(Decimal(text))
    assert stored == Decimal(text)
    out = json.loads(json.dumps(numbers.to_json(stored)), parse_float=Decimal)
    assert Decimal(out) == Decimal(text)


@pytest.mark.parametrize(
    "text",
    [
        "NaN",
        "Infinity",
        "-Infinity",
        "123456789012345678901234567890123456789",  # 39 significant digits
        "1.2345678901234567890123456789012345678E-129",  # 38 digits but subnormal: inexact
        "1E+126",
        "1E-131",
        "0.1000000000000000055511151231257827",  # the double nearest 0.1, not 0.1 itself
        "1.00000000000000001",
    ],
)
def test_numbers_we_could_not_return_exactly_are_refused(text):
    with pytest.raises(errors.InvalidNumber):
        numbers.to_stored(Decimal(text))


@pytest.mark.parametrize(
    ("stored", "expected"),
    [(Decimal("1E+20"), 10**20), (Decimal("2.50"), 2.5), (Decimal("-0"), 0), (Decimal(7), 7)],
)
def test_to_json_is_int_when_integral(stored, expected):
    value = numbers.to_json(stored)
    assert (value, type(value)) == (expected, type(expected))


@pytest.mark.parametrize("item_id", ["a", "x" * 128, "A.b_c-9", "-", "."])
def test_tokens_round_trip(item_id):
    token = pagination.encode(rows.key(item_id))
    assert "=" not in token
    assert pagination.decode(token) == rows.key(item_id)


def test_no_last_key_means_no_token():
    assert pagination.encode(None) is None
    assert pagination.decode(None) is None


def _domain_errors(cls: type = errors.DomainError) -> list[type]:
    return [cls, *(sub for direct in cls.__subclasses__() for sub in _domain_errors(direct))]


@pytest.mark.parametrize("cls", _domain_errors(), ids=lambda c: c.__name__)
def test_every_domain_error_has_a_4xx_status_and_a_code(cls):
    status = http.status_of(cls("message"))
    assert 400 <= status < 500
    assert cls.code.isupper()


def test_status_map():
    statuses = {
        cls.__name__: http.status_of(cls("m"))
        for cls in (errors.InvalidJson, errors.NotFound, errors.Conflict, errors.PayloadTooLarge)
    }
    assert statuses == {
        "InvalidJson": 400,
        "NotFound": 404,
        "Conflict": 409,
        "PayloadTooLarge": 413,
    }


@pytest.mark.parametrize(
    "previous",
    [
        "2999-01-01T00:00:00.000000Z",  # a clock far ahead
        "2999-12-31T23:59:59.999999Z",
    ],
)
def test_updated_at_never_repeats_or_goes_back(previous):
    later = model.later_than(previous)
    assert later > previous
    assert len(later) == len(previous)


@pytest.mark.parametrize("previous", [None, "not a timestamp", 5])
def test_updated_at_after_a_foreign_value_is_now(previous):
    assert len(model.later_than(previous)) == len("2026-11-21T12:00:00.123456Z")


def test_number_context_is_the_one_boto3_serializes_with():
    from boto3.dynamodb.types import DYNAMODB_CONTEXT

    ours, theirs = numbers.DYNAMODB_CONTEXT, DYNAMODB_CONTEXT
    assert (ours.prec, ours.Emin, ours.Emax) == (theirs.prec, theirs.Emin, theirs.Emax)
    assert {s for s, on in ours.traps.items() if on} == {s for s, on in theirs.traps.items() if on}


# -- settings, rows, tokens of both table modes ------------------------------------------------


@pytest.fixture
def history_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARTITION_KEY", "itemId")
    monkeypatch.setenv("SORT_KEY", "timestamp")


def test_rows_translate_the_key_at_the_table_boundary(history_mode):
    item = {"id": "a", "v": 1}
    assert rows.key("a") == {"itemId": "a", "timestamp": 0}
    assert rows.to_row(item, 7) == {"itemId": "a", "timestamp": 7, "v": 1}
    assert rows.to_item(rows.to_row(item, 7)) == item
    assert rows.public({**item, "file_key": "items/a/x"}) == item


def test_a_version_entry_is_the_state_with_its_number(history_mode):
    row = {"itemId": "a", "timestamp": Decimal(5), "file_key": "k", "deleted_at": "t"}
    assert rows.as_version(row) == {"id": "a", "deleted_at": "t", "version": 5, "deleted": True}


def test_plain_versions_are_numbered_by_updated_at(monkeypatch):
    monkeypatch.delenv("SORT_KEY", raising=False)
    row = {"id": "a", "updated_at": "1970-01-01T00:00:01.000002Z"}
    assert rows.as_version(row) == {**row, "version": 1_000_002, "deleted": False}


@pytest.mark.parametrize(
    ("stamp", "version"),
    [("1970-01-01T00:00:00.000001Z", 1), ("2026-11-21T00:00:00.000000Z", 1_795_219_200_000_000)],
)
def test_a_version_is_its_timestamp_in_microseconds(stamp, version):
    assert model.version_of(stamp) == version


@pytest.mark.parametrize("stamp", [None, "not a timestamp", 5])
def test_a_foreign_timestamp_has_version_0(stamp):
    assert model.version_of(stamp) == 0


def test_reserved_fields_follow_the_table(monkeypatch, history_mode):
    assert model.reserved_fields() == {
        "created_at",
        "updated_at",
        "file_key",
        "deleted_at",
        "itemId",
        "timestamp",
    }
    monkeypatch.setenv("PARTITION_KEY", "id")
    monkeypatch.delenv("SORT_KEY")
    assert model.reserved_fields() == model.SERVER_FIELDS


@pytest.mark.parametrize("version", [0, 1, 1763683200123456, 2**63 - 1])
def test_history_tokens_round_trip(history_mode, version):
    key = {"itemId": "a", "timestamp": Decimal(version)}  # as boto3 returns it
    assert pagination.decode(pagination.encode(key)) == {"itemId": "a", "timestamp": version}
    assert pagination.decode(pagination.encode(key), "a") == {"itemId": "a", "timestamp": version}
    with pytest.raises(errors.InvalidToken):
        pagination.decode(pagination.encode(key), "b")  # another item's versions


@pytest.mark.parametrize(
    "key",
    [
        {"itemId": "a"},
        {"itemId": "a", "timestamp": 2**63},
        {"itemId": "a", "timestamp": -1},
        {"itemId": "a", "timestamp": False},
        {"itemId": "a", "timestamp": 1.0},
        {"id": "a", "timestamp": 1},
    ],
)
def test_history_tokens_must_be_a_history_key(history_mode, key):
    with pytest.raises(errors.InvalidToken):
        pagination.decode(pagination.encode(key))


CORS = [
    ({}, {"Access-Control-Allow-Origin": "*"}),
    (
        {"CORS_ALLOW_ORIGIN": "*", "CORS_ALLOW_CREDENTIALS": "true"},
        {"Access-Control-Allow-Origin": "*"},
    ),
    (
        {"CORS_ALLOW_ORIGIN": "https://a.example", "CORS_ALLOW_CREDENTIALS": "false"},
        {"Access-Control-Allow-Origin": "https://a.example", "Vary": "Origin"},
    ),
    (
        {"CORS_ALLOW_ORIGIN": "https://a.example", "CORS_ALLOW_CREDENTIALS": "true"},
        {
            "Access-Control-Allow-Origin": "https://a.example",
            "Vary": "Origin",
            "Access-Control-Allow-Credentials": "true",
        },
    ),
]


@pytest.mark.parametrize(("env", "cors"), CORS)
def test_response_headers_follow_the_cors_settings(monkeypatch, env, cors):
    for name in ("CORS_ALLOW_ORIGIN", "CORS_ALLOW_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert http.headers() == {"Content-Type": "application/json", **cors}


def test_sets_and_binary_become_sorted_json():
    from boto3.dynamodb.types import Binary

    value = {"ns": {Decimal(10), Decimal(9)}, "bs": {Binary(b"b"), Binary(b"a")}, "b": b"\x00"}
    assert jsonify.dumps(value, sort_keys=True) == '{"b":"AA==","bs":["YQ==","Yg=="],"ns":[9,10]}'


def _client_error(code: str, reasons: list[str] | None = None, message: str = "") -> ClientError:
    response: dict = {"Error": {"Code": code, "Message": message}}
    if reasons is not None:
        response["CancellationReasons"] = [{"Code": r} for r in reasons]
    return ClientError(response, "TransactWriteItems")


@pytest.mark.parametrize(
    ("error", "lost"),
    [
        (_client_error("ConditionalCheckFailedException"), True),
        (_client_error("TransactionCanceledException", ["ConditionalCheckFailed", "None"]), True),
        (_client_error("TransactionCanceledException", ["None", "ConditionalCheckFailed"]), True),
        (
            _client_error("TransactionCanceledException", ["ConditionalCheckFailed", "Throttling"]),
            False,
        ),
        (_client_error("TransactionCanceledException", ["TransactionConflict", "None"]), False),
        (
            _client_error("TransactionCanceledException", message="[ConditionalCheckFailed, None]"),
            True,
        ),
        (_client_error("ProvisionedThroughputExceededException"), False),
    ],
)
def test_a_lost_race_is_only_a_failed_condition(error, lost):
    assert dynamo.condition_failed(error) is lost
