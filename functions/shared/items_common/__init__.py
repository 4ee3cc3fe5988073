"""Shared code of the items API's Lambda functions, shipped in the layer as `items_common`.

Each function's app.py only wires Powertools to one route function; everything a second function
could need lives here, one small module per concern:

- settings: the environment the template sets (key names, mode, bucket, CORS), read at call time
- model: the names the server owns, timestamps and the integer item version
- errors: domain exceptions, each with a short machine-readable code
- numbers: the one policy for numbers, so whatever we store we can return exactly
- validation: ids, query parameters and request bodies -> clean values or a 4xx error
- pagination: the opaque next_token
- event: the API Gateway proxy event as the routes read it
- aws: the boto3 clients every module shares (their calls timed for the request line), and
  which AWS failures are a 503
- dynamo: the table object, lost-race detection, the optimistic retry loop, and the contract of
  versions and preconditions (409 vs 412)
- rows: API items <-> table rows (the one place that knows the key attribute names)
- plain: the plain-mode store (conditional writes, never an upsert on PUT)
- history: the history-mode store (heads, versions, tombstones; transactions of two Puts)
- attachments: file_content in S3 under items/<id>/<uuid>, referenced by file_key; written
  tagged pending, committed or deleted by the stream consumer
- merge: JSON merge patch (RFC 7386), the body of PATCH
- items: the operations the routes call (mode choice + attachments)
- idempotency: POST with an Idempotency-Key, once per key (Powertools idempotency)
- jsonify: JSON out of DynamoDB values (Decimal, sets, Binary), deterministic when asked
- http: proxy responses with CORS headers, and the one map from domain error to HTTP status
- observability: the one log line per request (with its AWS calls) and the business metrics
  (EMF) of the writes
- audit: DynamoDB stream records -> the audit objects of the stream_audit function
- upkeep: the stream consumer's attachment upkeep (commit new objects, delete dropped ones)
- snapstart: what SnapStart needs (nothing unique at init; `random` reseeded after a restore)

Importing the package registers the SnapStart hook, so every function has it, whatever it
imports from here (Lambda runs only the hooks its handler's imports register).
"""

from . import snapstart

snapstart.register()
