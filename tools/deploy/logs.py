"""`make logs FN=<function>`: a function's log group, tailed with boto3 (awscli v1 has no
`logs tail`): the last minutes first, then new events as they arrive, until Ctrl-C."""

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from templates.catalog import FUNCTIONS
from templates.naming import logical_id
from tools.deploy.preflight import live_resources

POLL_SECONDS = 2.0


class LogsError(Exception):
    """A bad FN or a log group that is not there: names what is allowed."""


def log_group_id(function: str) -> str:
    """The logical ID of the function's log group (templates/log_groups.py). CloudFormation
    names the group, so its name is read from the stack (`log_group`)."""
    names = [f.name for f in FUNCTIONS]
    wanted = function.replace("-", "_")
    if wanted not in names:
        raise LogsError(f"FN={function!r} is not a function; functions are: {', '.join(names)}")
    return logical_id(wanted, "log", "group")


def log_group(cfn: Any, stack_name: str, function: str) -> str:
    """The name of the function's log group in the live stack (from ListStackResources)."""
    resource_id = log_group_id(function)
    found = (live_resources(cfn, stack_name) or {}).get(resource_id)
    if not found:
        raise LogsError(f"{stack_name} has no {resource_id}: make deploy first.")
    return found[1]


def tail(
    logs: Any,
    group: str,
    since_minutes: int = 10,
    follow: bool = True,
    out: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Print the group's events from `since_minutes` ago; with `follow`, keep polling. Returns
    the number of events printed."""
    start = int((time.time() - since_minutes * 60) * 1000)
    seen: set[str] = set()
    printed = 0
    while True:
        try:
            pages = logs.get_paginator("filter_log_events").paginate(
                logGroupName=group, startTime=start
            )
            events = [e for page in pages for e in page.get("events", [])]
        except logs.exceptions.ResourceNotFoundException:
            raise LogsError(f"log group {group} does not exist (is the stack deployed?)") from None
        for event in sorted(events, key=lambda e: (e["timestamp"], e["eventId"])):
            if event["eventId"] in seen:
                continue
            seen.add(event["eventId"])
            start = max(start, event["timestamp"])
            when = datetime.fromtimestamp(event["timestamp"] / 1000, UTC).strftime("%H:%M:%S")
            out(f"{when} {event['message'].rstrip()}")
            printed += 1
        if not follow:
            return printed
        sleep(POLL_SECONDS)
