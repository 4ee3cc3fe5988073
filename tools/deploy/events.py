"""Stack events as they happen, while `aws cloudformation deploy` (or a delete) runs.

A thread polls DescribeStackEvents and prints each new event once, oldest first: time,
resource, type, status and reason. When the operation ends, `failure()` gives the first failed
event (the cause; the failures after it are mostly cancellations) for the summary.
"""

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

POLL_SECONDS = 2.0
FAILED = ("CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED", "IMPORT_FAILED")


def line(event: dict[str, Any]) -> str:
    stamp = event["Timestamp"]
    when = stamp.strftime("%H:%M:%S") if isinstance(stamp, datetime) else str(stamp)
    reason = event.get("ResourceStatusReason")
    return (
        f"  {when}  {event['LogicalResourceId']:<32} {event.get('ResourceType', ''):<36} "
        f"{event['ResourceStatus']}" + (f"  {reason}" if reason else "")
    ).rstrip()


class EventTail(threading.Thread):
    """Prints the stack's events newer than the ones it saw at start."""

    def __init__(self, cfn: Any, stack_name: str, out: Callable[[str], None] = print) -> None:
        super().__init__(name=f"events-{stack_name}", daemon=True)
        self.cfn, self.stack_name, self.out = cfn, stack_name, out
        self.events: list[dict[str, Any]] = []  # printed, oldest first
        self._stop_event = threading.Event()
        self.seen: set[str] = {e["EventId"] for e in self._fetch()}  # earlier operations

    def _fetch(self) -> list[dict[str, Any]]:
        try:
            pages = self.cfn.get_paginator("describe_stack_events").paginate(
                StackName=self.stack_name
            )
            return [e for page in pages for e in page["StackEvents"]]
        except self.cfn.exceptions.ClientError:
            return []  # not created yet, or deleted

    def poll(self) -> None:
        new = [e for e in self._fetch() if e["EventId"] not in self.seen]
        for event in sorted(new, key=lambda e: e["Timestamp"]):
            self.seen.add(event["EventId"])
            self.events.append(event)
            self.out(line(event))

    def run(self) -> None:
        while not self._stop_event.wait(POLL_SECONDS):
            self.poll()

    def finish(self) -> None:
        """Stop polling, after one last round so nothing of this operation is missed."""
        self._stop_event.set()
        self.join(timeout=POLL_SECONDS * 3)
        self.poll()

    def failure(self) -> dict[str, Any] | None:
        return next((e for e in self.events if e["ResourceStatus"] in FAILED), None)
