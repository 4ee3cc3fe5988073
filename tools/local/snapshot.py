"""LOCAL_DATA: the local stack's data kept across restarts in one JSON file.

moto keeps everything in memory and has no persistence of its own, so `make local LOCAL_DATA=f`
writes the stack's data to `f` when the server stops (Ctrl-C or SIGTERM) and loads it back
after the next start has created the stack. The file, sorted and indented so it diffs well:

    {
      "format": "items-api-local/1",
      "tables": {"<table logical ID>": [<item in DynamoDB JSON>, ...], ...},
      "buckets": {"<bucket logical ID>": {"<object key>": "<base64 of the bytes>", ...}, ...}
    }

Keyed by logical ID, not by physical name, so it loads into a stack of another name. Only the
newest version of an object is kept. Restored rows do not go through the stream again (the
audit trail already holds them). A crash (kill -9) saves nothing: the file is the data of the
last clean stop.
"""

import base64
import json
import os
from pathlib import Path
from typing import Any

FORMAT = "items-api-local/1"
TABLE = "AWS::DynamoDB::Table"
BUCKET = "AWS::S3::Bucket"
BATCH = 25  # BatchWriteItem's limit


class SnapshotError(ValueError):
    """A LOCAL_DATA file that cannot be loaded: names the file and what is wrong."""


def _of_type(template: dict[str, Any], physical: dict[str, str], type_: str) -> dict[str, str]:
    return {
        logical: physical[logical]
        for logical, resource in sorted(template["Resources"].items())
        if resource["Type"] == type_ and logical in physical
    }


def save(path: Path, template: dict, physical: dict[str, str], dynamodb: Any, s3: Any) -> dict:
    """Write the stack's tables and buckets to `path` (atomically); return the counts."""
    tables = {}
    for logical, name in _of_type(template, physical, TABLE).items():
        items = []
        for page in dynamodb.get_paginator("scan").paginate(TableName=name):
            items += page.get("Items", [])
        tables[logical] = sorted(items, key=lambda i: json.dumps(i, sort_keys=True))
    buckets = {}
    for logical, name in _of_type(template, physical, BUCKET).items():
        objects = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for entry in page.get("Contents", []):
                data = s3.get_object(Bucket=name, Key=entry["Key"])["Body"].read()
                objects[entry["Key"]] = base64.b64encode(data).decode("ascii")
        buckets[logical] = objects
    document = {"format": FORMAT, "tables": tables, "buckets": buckets}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    os.replace(temporary, path)
    return _counts(document)


def load(path: Path, template: dict, physical: dict[str, str], dynamodb: Any, s3: Any) -> dict:
    """Put `path`'s data into the stack's tables and buckets; return the counts. A missing file
    is an empty start; a file that is not ours raises SnapshotError before anything is written."""
    if not path.exists():
        return {"items": 0, "objects": 0}
    document = _read(path)
    tables = _of_type(template, physical, TABLE)
    buckets = _of_type(template, physical, BUCKET)
    unknown = sorted(set(document["tables"]) - set(tables)) + sorted(
        set(document["buckets"]) - set(buckets)
    )
    if unknown:
        raise SnapshotError(
            f"{path}: {', '.join(unknown)} not in the template "
            f"(tables: {', '.join(tables)}; buckets: {', '.join(buckets)})"
        )
    for logical, items in document["tables"].items():
        for start in range(0, len(items), BATCH):
            requests = [{"PutRequest": {"Item": i}} for i in items[start : start + BATCH]]
            dynamodb.batch_write_item(RequestItems={tables[logical]: requests})
    for logical, objects in document["buckets"].items():
        for key, data in objects.items():
            s3.put_object(Bucket=buckets[logical], Key=key, Body=base64.b64decode(data))
    return _counts(document)


def _read(path: Path) -> dict:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise SnapshotError(f"{path}: not a readable JSON file ({error})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SnapshotError(
            f'{path}: not a LOCAL_DATA file (expected "format": "{FORMAT}"); '
            "move it away or name another file"
        )
    for key in ("tables", "buckets"):
        if not isinstance(document.get(key), dict):
            raise SnapshotError(f"{path}: `{key}` must be an object")
    return document


def _counts(document: dict) -> dict:
    return {
        "items": sum(len(i) for i in document["tables"].values()),
        "objects": sum(len(o) for o in document["buckets"].values()),
    }
