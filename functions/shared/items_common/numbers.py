"""The one policy for numbers, so a number keeps its value from request to table to response.

Requests are parsed with every number as a Decimal (DynamoDB rejects floats, and ints longer
than Python's int-to-str limit would fail). At input a number is accepted only if:

- it is finite (NaN and Infinity are refused);
- DynamoDB can store it exactly: at most 38 significant digits (trailing zeros of an integer do
  not count: 1 followed by 40 zeros is 1E+40 and fine), magnitude 1E-130 to 9.99..E+125;
- it is an integer, or a non-integral number whose shortest float repr has the same value
  (0.1, 2.5, 1e-7). 0.12345678901234567890 is refused: answering with a float would change it.

At output an integral Decimal becomes a JSON integer, any other a JSON float; by the input rule
that float is exact for everything written through the API. A number written by someone else is
still answered (as the nearest float), never with an error.
"""

from decimal import (
    Clamped,
    Context,
    Decimal,
    DecimalException,
    Inexact,
    Overflow,
    Rounded,
    Underflow,
)

from .errors import InvalidNumber

# boto3.dynamodb.types.DYNAMODB_CONTEXT, the context boto3's serializer converts numbers with
# (a unit test checks they agree); copied so that the health function never imports boto3.
DYNAMODB_CONTEXT = Context(
    Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow]
)

MAX_DIGITS = 38
MIN_ADJUSTED_EXPONENT = -130  # 1E-130
MAX_ADJUSTED_EXPONENT = 125  # 9.9999999999999999999999999999999999999E+125


def parse(text: str) -> Decimal:
    """json parse_int/parse_float hook. Decimal raises InvalidOperation (an ArithmeticError,
    not a ValueError) for an exponent beyond its own limits, e.g. 1e99999999999999999999: that
    is a number no table can store, so the answer is 400 INVALID_NUMBER, never a 500."""
    try:
        return Decimal(text)
    except DecimalException:
        raise InvalidNumber(f"number {text[:40]} is out of range") from None


def reject_constant(name: str) -> None:
    """json parse_constant hook: NaN, Infinity and -Infinity are not numbers DynamoDB stores."""
    raise InvalidNumber(f"{name} is not allowed: numbers must be finite")


def _without_trailing_zeros(value: Decimal) -> Decimal:
    """The same value with trailing zeros moved into the exponent, exactly (no context)."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite: checked by the caller
    count = len(digits)
    while count > 1 and digits[count - 1] == 0:
        count -= 1
    return Decimal((sign, digits[:count], exponent + len(digits) - count))


def to_stored(value: Decimal) -> Decimal:
    """The Decimal to store for a request number, or InvalidNumber (see the module docstring)."""
    if not value.is_finite():
        raise InvalidNumber("numbers must be finite")
    if value.is_zero():
        return Decimal(0)
    value = _without_trailing_zeros(value)
    if len(value.as_tuple().digits) > MAX_DIGITS:
        raise InvalidNumber(f"numbers may have at most {MAX_DIGITS} significant digits")
    if not MIN_ADJUSTED_EXPONENT <= value.adjusted() <= MAX_ADJUSTED_EXPONENT:
        raise InvalidNumber("numbers must lie between 1E-130 and 9.99E+125 in magnitude")
    try:  # the exact check boto3's serializer makes, so it cannot fail later
        value = DYNAMODB_CONTEXT.create_decimal(value)
    except DecimalException:
        raise InvalidNumber("number cannot be stored exactly") from None
    if not is_integral(value) and Decimal(repr(float(value))) != value:
        raise InvalidNumber("non-integral numbers must be exactly representable as a double")
    return value


def is_integral(value: Decimal) -> bool:
    return value == value.to_integral_value()


def to_json(value: Decimal) -> int | float:
    """A stored number as a JSON number: int when integral, else float (exact, see above)."""
    if value.is_finite() and is_integral(value):
        return int(value)
    return float(value)
