"""items_common's pure parts, value by value: the number policy, tokens, the error map and the
timestamps PUT locks on. (The handlers' behaviour is in test_handlers.py.)"""

import json
from decimal import Decimal

import pytest

from items_common import errors, http, model, numbers, pagination


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
    token = pagination.encode({model.KEY: item_id})
    assert "=" not in token
    assert pagination.decode(token) == {model.KEY: item_id}


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
