"""Idempotent creation: POST /items with an Idempotency-Key header creates at most one item per
key, with Powertools' idempotency utility on the table of settings.idempotency_table() (partition
key `id`, TTL attribute `expiration`: DynamoDBPersistenceLayer's defaults; the template's
IDEMPOTENCY_TABLE).

- The key: the header (name in any case; value 1-128 of A-Z a-z 0-9 . _ : -, else 400
  INVALID_IDEMPOTENCY_KEY, validation.idempotency_key). Without the header, POST is not
  idempotent (a repeated id is 409, a body without id creates another item).
- The record is keyed on the key alone (with the function's name) and remembers a hash of the
  checked body's canonical JSON (jsonify.dumps, sorted keys: whitespace, member order and a
  number's spelling do not matter, its type does: 1 and "1", 10 and "1E+1", 0.5 and "0.5" are
  different bodies; Powertools' own hash turns Decimals into strings and would match them),
  taken BEFORE the server draws an id for a body without one. So:
  - the same key with the same body answers the FIRST response again: 201, the same body (the
    same drawn id, the item as it was created, even if it changed since) and its ETag; nothing
    is written again;
  - the same key with another body is 422 IDEMPOTENCY_KEY_REUSED;
  - the same key while the first request is still running is 409 CONFLICT (retry later).
  Records expire after EXPIRY_SECONDS (24 h); then the key is new again.
- What is cached: only a success (the 201's item, as its JSON text). A request the handler
  refuses before the record is written (a 4xx of validation: bad key, bad body) leaves no record;
  one that fails inside (409 for an existing id, a 500) has its in-progress record deleted by
  Powertools, so a corrected retry with the same key runs afresh instead of replaying an error.
- A run that dies without either (a timeout) leaves an in-progress record that blocks the key
  only until the invocation's remaining time has passed (register: Powertools takes it from the
  Lambda context); then a retry runs again.
"""

from collections.abc import Callable
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from . import settings
from .aws import CONFIG
from .errors import Conflict, IdempotencyKeyReused
from .jsonify import dumps

EXPIRY_SECONDS = 24 * 60 * 60

# One config per cold start: register() gives it each invocation's context.
_config = IdempotencyConfig(
    event_key_jmespath="key",
    payload_validation_jmespath="body",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=EXPIRY_SECONDS,
)


def register(context: Any) -> None:
    """Give Powertools the invocation's context, so an in-progress record expires with the
    invocation (a context without the remaining time, e.g. a test double, is skipped)."""
    if callable(getattr(context, "get_remaining_time_in_millis", None)):
        _config.register_lambda_context(context)


@cache
def _create_once(table_name: str) -> Callable[..., str]:
    """The idempotent runner for this table: made on first use (the table name is read at call
    time; under moto the client is made inside the mock), with the shared boto3 configuration
    and the default session (so the tests' botocore hooks reach it too)."""
    persistence = DynamoDBPersistenceLayer(
        table_name=table_name, boto3_client=boto3.client("dynamodb", config=CONFIG)
    )

    @idempotent_function(
        data_keyword_argument="request", persistence_store=persistence, config=_config
    )
    def create_once(*, request: dict[str, Any], create: Callable[[], str]) -> str:
        return create()

    return create_once


def once(key: str, body: dict[str, Any], create: Callable[[], str]) -> str:
    """`create()` (which returns the response body as JSON text) run at most once per `key` and
    `body`; a repeat returns the first run's text. IdempotencyKeyReused for the key with another
    body, Conflict while the key's first run is in progress."""
    try:
        return _create_once(settings.idempotency_table())(
            request={"key": key, "body": dumps(body, sort_keys=True)}, create=create
        )
    except IdempotencyValidationError:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used with a different body"
        ) from None
    except IdempotencyAlreadyInProgressError:
        raise Conflict("a request with this Idempotency-Key is in progress; retry") from None
