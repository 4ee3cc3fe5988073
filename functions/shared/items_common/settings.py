"""The environment the template gives every function (the contract with templates/functions.py).

Read at call time, never at import: a lookup in os.environ costs nothing next to an AWS call, and
nothing can then go stale between a test's environment and a module imported earlier. A variable
the template always sets but that is missing (a local run) takes the template parameter's
default, so such a run behaves like the default deployment; the names of AWS resources have no
sensible default and raise KeyError (a 500) instead.
"""

import os


def partition_key() -> str:
    """The table's partition key attribute (String). The API calls it `id` whatever this is."""
    return os.environ.get("PARTITION_KEY") or "id"


def sort_key() -> str | None:
    """The table's Number sort key in history mode; None in plain mode (one row per item)."""
    return os.environ.get("SORT_KEY") or None


def history_mode() -> bool:
    return sort_key() is not None


def table_name() -> str:
    return os.environ["TABLE_NAME"]


def bucket_name() -> str:
    return os.environ["BUCKET_NAME"]


def idempotency_table() -> str:
    """Powertools' idempotency records of POST Idempotency-Keys (idempotency.py)."""
    return os.environ["IDEMPOTENCY_TABLE"]


def cors_origin() -> str:
    """Access-Control-Allow-Origin of every response: "*" or one origin."""
    return os.environ.get("CORS_ALLOW_ORIGIN") or "*"


def cors_credentials() -> bool:
    """Whether to send Access-Control-Allow-Credentials: true. Never with origin "*": the template
    refuses that combination, and browsers would reject such a response anyway."""
    return os.environ.get("CORS_ALLOW_CREDENTIALS") == "true" and cors_origin() != "*"
