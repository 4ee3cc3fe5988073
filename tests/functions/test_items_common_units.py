"""items_common's pure parts, value by value: the number policy, tokens, the error map, the
timestamps and versions writes use, and the merge patch of PATCH. (The handlers' behaviour is in
test_handlers.py and the test_contract_*.py files.)"""

import json
from decimal import Decimal

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from botocore.exceptions import ClientError

from items_common import (
    dynamo,
    errors,
    http,
    jsonify,
    merge,
    model,
    numbers,
    pagination,
    rows,
    validation,
)
from tests.handlers import api_event


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
def test_every_domain_error_has_a_4xx_or_503_status_and_a_code(cls):
    """A client's mistake is a 4xx; AWS being unavailable (errors.Unavailable) is a 503, never a
    500, which means a bug of ours."""
    status = http.status_of(cls("message"))
    assert 400 <= status < 500 or (status == 503 and issubclass(cls, errors.Unavailable))
    assert cls.code.isupper()


def test_status_map():
    statuses = {
        cls.__name__: http.status_of(cls("m"))
        for cls in (
            errors.InvalidJson,
            errors.InvalidVersion,
            errors.InvalidIdempotencyKey,
            errors.NotFound,
            errors.Conflict,
            errors.PreconditionFailed,
            errors.PayloadTooLarge,
            errors.IdempotencyKeyReused,
            errors.Unavailable,
            errors.Throttled,
            errors.Timeout,
        )
    }
    assert statuses == {
        "InvalidJson": 400,
        "InvalidVersion": 400,
        "InvalidIdempotencyKey": 400,
        "NotFound": 404,
        "Conflict": 409,
        "PreconditionFailed": 412,
        "PayloadTooLarge": 413,
        "IdempotencyKeyReused": 422,
        "Unavailable": 503,
        "Throttled": 503,
        "Timeout": 503,
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
    shown = {**item, "version": 3}
    assert rows.public({**item, "version": Decimal(3), "file_key": "items/a/x"}) == shown


def test_a_version_entry_is_the_state_with_its_version_not_its_sort_key(history_mode):
    row = {
        "itemId": "a",
        "timestamp": Decimal(1_795_219_200_000_000),
        "version": Decimal(5),
        "file_key": "k",
        "deleted_at": "t",
    }
    assert rows.as_version(row) == {"id": "a", "deleted_at": "t", "version": 5, "deleted": True}


def test_plain_versions_are_numbered_by_the_version(monkeypatch):
    monkeypatch.delenv("SORT_KEY", raising=False)
    row = {"id": "a", "updated_at": "1970-01-01T00:00:01.000002Z", "version": Decimal(7)}
    assert rows.as_version(row) == {**row, "version": 7, "deleted": False}


@pytest.mark.parametrize(
    ("stored", "number"),
    [
        (Decimal(1), 1),
        (Decimal(42), 42),
        (Decimal("3.0"), 3),
        (7, 7),
        (Decimal(model.MAX_VERSION), model.MAX_VERSION),
        # not ours: a row written before versions, or outside the API, counts as version 0
        (None, 0),
        ("3", 0),
        (True, 0),
        (Decimal("1.5"), 0),
        (Decimal(-1), 0),
        (Decimal(model.MAX_VERSION + 1), 0),
        (Decimal("NaN"), 0),
        ({"n": 1}, 0),
    ],
)
def test_a_stored_version_reads_as_an_integer(stored, number):
    assert model.version_number(stored) == number
    row = {"id": "a"} if stored is None else {"id": "a", "version": stored}
    assert rows.public(row)["version"] == number


@pytest.mark.parametrize(
    ("current", "condition", "values", "following"),
    [
        (
            {"id": "a", "version": Decimal(4)},
            "attribute_exists(#pk) AND #version = :prev",
            {":prev": Decimal(4)},
            5,
        ),
        ({"id": "a"}, "attribute_exists(#pk) AND attribute_not_exists(#version)", {}, 1),
        (
            {"id": "a", "version": "x"},
            "attribute_exists(#pk) AND #version = :prev",
            {":prev": "x"},
            1,
        ),
    ],
    ids=["ours", "before-versions", "foreign-value"],
)
def test_writes_lock_on_the_version_they_read(monkeypatch, current, condition, values, following):
    monkeypatch.delenv("SORT_KEY", raising=False)
    assert dynamo.unchanged(current) == (condition, {"#pk": "id", "#version": "version"}, values)
    assert dynamo.next_version(current) == following


@pytest.mark.parametrize(
    ("expected", "fails"), [(None, False), (4, False), (3, True), (5, True), (0, True)]
)
def test_a_precondition_names_the_current_version(expected, fails):
    current = {"id": "a", "version": Decimal(4)}
    if fails:
        with pytest.raises(errors.PreconditionFailed):
            dynamo.check_precondition("a", current, expected)
    else:
        dynamo.check_precondition("a", current, expected)


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
        "idempotency_token",
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


# -- JSON merge patch (RFC 7386) ----------------------------------------------------------------

MERGE_CASES = [
    # (id, target, patch, result): RFC 7386 appendix A, then the item-shaped cases PATCH relies on
    ("replace", {"a": "b"}, {"a": "c"}, {"a": "c"}),
    ("add", {"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ("remove", {"a": "b"}, {"a": None}, {}),
    ("remove-one-of-two", {"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ("array-replaces", {"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ("replaces-array", {"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    (
        "nested-merge",
        {"a": {"b": "c"}},
        {"a": {"b": "d", "c": None}},
        {"a": {"b": "d"}},
    ),
    ("arrays-whole", {"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ("non-object-target", ["a", "b"], ["c", "d"], ["c", "d"]),
    ("object-over-array", ["a"], {"a": "b"}, {"a": "b"}),
    ("null-over-object", {"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ("array-with-nulls-kept", {}, {"a": [None, 1]}, {"a": [None, 1]}),
    ("null-on-missing-is-a-no-op", {"a": 1}, {"zz": None}, {"a": 1}),
    ("object-into-missing-drops-nulls", {}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ("object-over-scalar", {"a": 1}, {"a": {"b": 1, "c": None}}, {"a": {"b": 1}}),
    ("scalar-over-object", {"a": {"b": 1}}, {"a": 5}, {"a": 5}),
    ("empty-patch", {"a": 1}, {}, {"a": 1}),
    ("false-and-zero-are-values", {"a": 1, "b": 2}, {"a": False, "b": 0}, {"a": False, "b": 0}),
    (
        "deep",
        {"o": {"x": 1, "y": {"p": 1, "q": 2}}},
        {"o": {"y": {"q": None, "r": 3}, "z": "n"}},
        {"o": {"x": 1, "y": {"p": 1, "r": 3}, "z": "n"}},
    ),
]


@pytest.mark.parametrize(
    ("target", "patch", "result"), [c[1:] for c in MERGE_CASES], ids=[c[0] for c in MERGE_CASES]
)
def test_merge_patch_follows_rfc_7386(target, patch, result):
    target_before, patch_before = json.dumps(target), json.dumps(patch)
    assert merge.merge_patch(target, patch) == result
    # pure: neither argument changed
    assert (json.dumps(target), json.dumps(patch)) == (target_before, patch_before)


# -- preconditions and idempotency keys, from request headers -----------------------------------


def _event(headers: dict | None = None) -> APIGatewayProxyEvent:
    return APIGatewayProxyEvent(api_event("PUT", "/items/a", body="{}", headers=headers))


@pytest.mark.parametrize(
    ("headers", "body_version", "expected"),
    [
        ({}, validation._ABSENT, None),
        ({"If-Match": "*"}, validation._ABSENT, None),
        ({"If-Match": "3"}, validation._ABSENT, 3),
        ({"If-Match": '"3"'}, validation._ABSENT, 3),
        ({"if-match": ' "3" '}, validation._ABSENT, 3),
        ({"IF-MATCH": "0"}, validation._ABSENT, 0),
        ({}, Decimal(3), 3),
        ({}, Decimal("3.0"), 3),
        ({"If-Match": '"3"'}, Decimal(3), 3),
        ({"If-Match": "*"}, Decimal(4), 4),
    ],
)
def test_a_precondition_comes_from_if_match_or_the_body(headers, body_version, expected):
    assert validation.precondition(_event(headers), body_version) == expected


@pytest.mark.parametrize(
    ("headers", "body_version"),
    [
        ({"If-Match": ""}, validation._ABSENT),
        ({"If-Match": "abc"}, validation._ABSENT),
        ({"If-Match": 'W/"3"'}, validation._ABSENT),
        ({"If-Match": '"3'}, validation._ABSENT),
        ({"If-Match": '3"'}, validation._ABSENT),
        ({"If-Match": '"1", "2"'}, validation._ABSENT),
        ({"If-Match": "-1"}, validation._ABSENT),
        ({"If-Match": "1.0"}, validation._ABSENT),
        ({"If-Match": '"*"'}, validation._ABSENT),
        ({"If-Match": "1" * 19}, validation._ABSENT),
        ({}, "3"),
        ({}, None),
        ({}, True),
        ({}, Decimal("1.5")),
        ({}, Decimal(-1)),
        ({}, Decimal("1e30")),
        ({}, [1]),
        ({"If-Match": "3"}, Decimal(4)),
    ],
)
def test_a_malformed_or_contradictory_precondition_is_invalid_version(headers, body_version):
    with pytest.raises(errors.InvalidVersion):
        validation.precondition(_event(headers), body_version)


@pytest.mark.parametrize(
    "key", ["a", "x" * 128, "A.b_c-9:z", "550e8400-e29b-41d4-a716-446655440000"]
)
@pytest.mark.parametrize("name", ["Idempotency-Key", "idempotency-key", "IDEMPOTENCY-KEY"])
def test_idempotency_keys(name, key):
    assert validation.idempotency_key(_event({name: key})) == key


@pytest.mark.parametrize("key", ["", " ", "x" * 129, "a b", "ü", "a/b", "a,b", "a\n", "*"])
def test_malformed_idempotency_keys(key):
    with pytest.raises(errors.InvalidIdempotencyKey):
        validation.idempotency_key(_event({"Idempotency-Key": key}))


def test_no_idempotency_key():
    assert validation.idempotency_key(_event()) is None
