"""The item body's JSON schema, read from the file the handlers validate with, so API Gateway's
model and the functions' own check can never disagree."""

import json
from pathlib import Path

SCHEMA_FILE = (
    Path(__file__).resolve().parent.parent
    / "functions"
    / "shared"
    / "items_common"
    / "item_schema.json"
)
ITEM_SCHEMA: dict = json.loads(SCHEMA_FILE.read_text())
