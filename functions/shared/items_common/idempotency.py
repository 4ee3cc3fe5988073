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
  If that delete fails too, the client still gets the 409 (or whatever the run raised): the
  record is deleted again here (FORGET_ATTEMPTS), and if that fails as well the key frees when
  its in-progress record expires, with the invocation.
- A run that dies without either (a timeout) leaves an in-progress record that blocks the key
  only until the invocation's remaining time has passed (register: Powertools takes it from the
  Lambda context).
- At most one item per key, whatever fails: the item is tied to the key (`token`, a hash of the
  key and the checked body, stored on the item and kept by every write; a body without id gets
  an id derived from it, validation.with_id). So when the record never reached COMPLETED (its
  update was throttled, the function timed out after the write), a retry finds the item:
  its creation conflicts with an item carrying the same token, or the record is still in
  progress and that item exists, and the retry answers the first 201 again (items.created_by).
  When the write succeeded and only the record's update failed, this request answers 201 too.
"""

import hashlib
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from . import aws, settings
from .errors import Conflict, DomainError, IdempotencyKeyReused, chain
from .jsonify import dumps

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

EXPIRY_SECONDS = 24 * 60 * 60
# Deletes of a failed run's record tried here after Powertools' own failed (each with botocore's
# retries).
FORGET_ATTEMPTS = 2

Item = dict[str, Any]

# The invocation's Lambda context (register), given to Powertools before each idempotent run.
_context: Any = None


def register(context: Any) -> None:
    """Remember the invocation's context, so an in-progress record expires with the invocation
    (a context without the remaining time, e.g. a test double, is not given to Powertools)."""
    global _context
    _context = context


def token(key: str, body: dict[str, Any]) -> str:
    """The creation a key and a checked body stand for, as stored on its item."""
    return hashlib.sha256(f"{key}\n{dumps(body, sort_keys=True)}".encode()).hexdigest()


@cache
def _store(table_name: str) -> tuple["DynamoDBPersistenceLayer", Callable[..., str], Any]:
    """The record store, the idempotent runner and its config for this table: made on first use
    (the table name is read at call time; under moto the client is made inside the mock), with
    the shared boto3 configuration and the default session (so the tests' botocore hooks reach it
    too). Powertools' idempotency utility is imported here, by the first request that carries
    an Idempotency-Key: a cold start without one does not load it (a large import)."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="body",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=EXPIRY_SECONDS,
    )
    persistence = DynamoDBPersistenceLayer(
        table_name=table_name, boto3_client=aws.client("dynamodb")
    )

    @idempotent_function(
        data_keyword_argument="request", persistence_store=persistence, config=config
    )
    def create_once(*, request: dict[str, Any], create: Callable[[], str]) -> str:
        return create()

    return persistence, create_once, config


def once(
    key: str, body: dict[str, Any], create: Callable[[], Item], first: Callable[[], Item | None]
) -> str:
    """`create()` run at most once per `key` and `body`, as JSON text; a repeat returns the first
    run's text, or `first()` (the first answer rebuilt from the item) when the record cannot
    say. IdempotencyKeyReused for the key with another body, Conflict while the key's first run
    is in progress and has no item yet."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import (  # loaded by _store
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    persistence, create_once, config = _store(settings.idempotency_table())
    if callable(getattr(_context, "get_remaining_time_in_millis", None)):
        config.register_lambda_context(_context)
    request = {"key": key, "body": dumps(body, sort_keys=True)}
    made: list[str] = []

    def run() -> str:
        made.append(dumps(create()))
        return made[-1]

    try:
        return create_once(request=request, create=run)
    except IdempotencyValidationError:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used with a different body"
        ) from None
    except IdempotencyAlreadyInProgressError:
        found = first()
        if found is None:
            raise Conflict("a request with this Idempotency-Key is in progress; retry") from None
        return dumps(found)
    except IdempotencyPersistenceLayerError as error:
        if made:  # the item is written; only the record's update failed, and the token finds it
            return made[-1]
        refused = _domain_error(error)
        if refused is None:
            raise
        _forget(persistence, request, refused)
        raise refused from None


def _domain_error(error: BaseException) -> DomainError | None:
    """The run's own refusal behind Powertools' failure to delete its record, if any."""
    return next((e for e in chain(error) if isinstance(e, DomainError)), None)


def _forget(persistence: "DynamoDBPersistenceLayer", request: dict, error: DomainError) -> None:
    """Delete a refused run's in-progress record, so the key is usable again at once; if it
    cannot be, the record expires with the invocation."""
    for _ in range(FORGET_ATTEMPTS):
        try:
            persistence.delete_record(data=request, exception=error)
            return
        except Exception:  # the answer stands; the record expires with the invocation
            continue
