"""Shared code of the items API's Lambda functions, shipped in the layer as `items_common`.

Each function's app.py only wires Powertools to one route function; everything a second function
could need lives here, one small module per concern:

- model: the item's attribute names (the key attribute lives in ONE constant) and timestamps
- errors: domain exceptions, each with a short machine-readable code
- numbers: the one policy for numbers, so whatever we store we can return exactly
- validation: ids, query parameters and request bodies -> clean values or a 4xx error
- pagination: the opaque next_token
- store: the DynamoDB repository (conditional writes, never an upsert on PUT)
- http: proxy responses, JSON with Decimal, and the one map from domain error to HTTP status
"""
