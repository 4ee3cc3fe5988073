"""Scale: `GET /items?limit=50` and `GET /items/{id}` through the real handlers (the built zips)
on moto in-process, the table and bucket created by moto's CloudFormation from the template's
own resources (as tests/conftest.py make_stack does), with 100, 1,000 and 10,000 items.

Why: every listing is one bounded page (Scan with Limit) and a read is one GetItem by key, so
the time per request must not grow with the table. The items the Scan read per request are
counted on the wire (ScannedCount), which shows the bound independently of moto's own cost."""

import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from tools.bench import common
from tools.bench.bench_warm import ATTRIBUTES, STAMP, typed

SIZES = (100, 1_000, 10_000)
LIMIT = 50
RATIO_LIMIT = 1.5


def create_state(tpl: dict[str, Any]) -> dict[str, str]:
    """The template's tables and bucket, created by moto's CloudFormation with the test stage's
    values; their physical IDs by logical ID."""
    from tools.deploy.stage_params import stage_values
    from tools.local import moto_compat
    from tools.local.stack import create_part, state_part

    moto_compat.apply()
    client = boto3.client("cloudformation", region_name=common.REGION)
    values = stage_values(tpl, common.STAGE)
    return create_part(client, f"{common.STACK}-bench-scale", state_part(tpl), values)


def fill(table: str, start: int, stop: int) -> None:
    """Items start..stop-1 (ids item-00000...), 25 per BatchWriteItem."""
    client = boto3.client("dynamodb", region_name=common.REGION)
    for first in range(start, stop, 25):
        items = [
            {
                "id": f"item-{i:05d}",
                **ATTRIBUTES,
                "created_at": STAMP,
                "updated_at": STAMP,
                "version": 1,
            }
            for i in range(first, min(first + 25, stop))
        ]
        puts = [{"PutRequest": {"Item": {k: typed(v) for k, v in item.items()}}} for item in items]
        client.batch_write_item(RequestItems={table: puts})


def timed(handler: Any, event: dict, context: common.Context, status: int) -> float:
    started = time.perf_counter()
    result = handler(event, context)
    elapsed = time.perf_counter() - started
    if result["statusCode"] != status:
        raise RuntimeError(f"{event['path']}: {result['statusCode']} {result['body']}")
    return elapsed * 1000


def run(quick: bool) -> list[common.Row]:
    reps = 20 if quick else 100
    os.environ.update(common.DUMMY_AWS)
    os.environ.update(POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_DEV="false")
    tpl = common.template()
    rng = random.Random(9)
    list_event = common.api_event("GET", "/items", "/items", query={"limit": str(LIMIT)})
    lists: dict[int, list[float]] = {}
    gets: dict[int, list[float]] = {}
    scanned: list[int] = []
    real_stdout = sys.stdout
    with (
        tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp,
        open(os.devnull, "w") as null,
        mock_aws(),
    ):
        functions_dir, layer_dir = common.unpack_dist(Path(tmp))
        physical = create_state(tpl)
        env = common.function_environment(tpl, "list_items", lambda logical: physical[logical])
        os.environ.update(env)
        sys.stdout = null  # the handlers' log lines
        try:
            list_items, list_common = common.load_handler(functions_dir, layer_dir, "list_items")
            get_item, _ = common.load_handler(functions_dir, layer_dir, "get_item")
            client = list_common["items_common.dynamo"].table().meta.client
            client.meta.events.register(
                "after-call.dynamodb.Scan",
                lambda parsed, **_: scanned.append(parsed.get("ScannedCount", 0)),
            )
            context = common.Context()
            count = 0
            for size in SIZES:
                common.progress(f"scale: {size:,} items")
                fill(env["TABLE_NAME"], count, size)
                count = size
                ids = [f"item-{rng.randrange(size):05d}" for _ in range(reps)]
                scanned.clear()
                for _ in range(5):  # warm-up
                    timed(list_items.lambda_handler, list_event, context, 200)
                lists[size] = [
                    timed(list_items.lambda_handler, list_event, context, 200) for _ in ids
                ]
                gets[size] = [
                    timed(
                        get_item.lambda_handler,
                        common.api_event(
                            "GET",
                            "/items/{id}",
                            f"/items/{item_id}",
                            path_parameters={"id": item_id},
                        ),
                        context,
                        200,
                    )
                    for item_id in ids
                ]
        finally:
            sys.stdout = real_stdout
    rows: list[common.Row] = []
    for label, samples in ((f"GET /items?limit={LIMIT}", lists), ("GET /items/{id}", gets)):
        base = statistics.median(samples[SIZES[0]])
        for size in SIZES:
            if size == SIZES[0]:
                rows.append(
                    common.sample_row(f"scale {label}, {size:,} items", samples[size], "ms")
                )
                continue
            ratio = statistics.median(samples[size]) / base
            rows.append(
                common.sample_row(
                    f"scale {label}, {size:,} items ({ratio:.2f}x {SIZES[0]:,})",
                    samples[size],
                    "ms",
                    f"<= {RATIO_LIMIT}x {SIZES[0]:,}",
                    RATIO_LIMIT * base,
                )
            )
    most = max(scanned) if scanned else 0
    rows.append(
        common.Row(
            f"scale GET /items?limit={LIMIT}: items read per request at {SIZES[-1]:,}",
            most,
            "items",
            f"<= {LIMIT}",
            most <= LIMIT,
        )
    )
    return rows


if __name__ == "__main__":
    common.main(run)
