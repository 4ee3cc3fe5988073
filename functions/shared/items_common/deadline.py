"""The request's deadline: every AWS call of a request, with botocore's retries and their
backoff, ends before Lambda or API Gateway would cut the request off, so the client always gets
our JSON answer (503 TIMEOUT) instead of API Gateway's bare 502/504.

The deadline is the earlier of the function's end (the Lambda context's remaining time) and
API Gateway's end (its 29 s integration timeout, counted from requestContext.requestTimeEpoch,
the time API Gateway received the request, so a cold start counts), minus MARGIN_S to answer.
An epoch that our clock cannot place (more than the timeout in the past, or in the future: a
synthetic event) is not used; the 29 s then count from the invocation's start.

`watch` enforces it with a real-time timer (SIGALRM), which interrupts whatever the request is
blocked in: a hung socket, a retry's sleep. DeadlineExceeded is a BaseException on purpose:
urllib3 and botocore turn any Exception raised inside a socket read into a retryable connection
error, and the deadline would be retried away. Lambda runs the handler in the main thread, where
signals are delivered; elsewhere (a thread of a local server) there is no timer, and the client
timeouts in aws.CONFIG remain the bound.
"""

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# API Gateway REST APIs' default integration timeout.
API_TIMEOUT_S = 29.0
# Time kept to build the answer, log its line and return it through API Gateway.
MARGIN_S = 1.0


class DeadlineExceeded(BaseException):
    """The request's deadline passed (see the module docstring for why not an Exception)."""


def seconds_left(context: Any, event: dict[str, Any], now: float | None = None) -> float:
    """How long the request may still spend on AWS calls (may be <= 0)."""
    now = time.time() if now is None else now
    left = API_TIMEOUT_S
    received = (event.get("requestContext") or {}).get("requestTimeEpoch")
    if isinstance(received, int | float) and not isinstance(received, bool):
        elapsed = now - received / 1000
        if 0 <= elapsed <= API_TIMEOUT_S:
            left = API_TIMEOUT_S - elapsed
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        left = min(left, remaining() / 1000)
    return left - MARGIN_S


@contextmanager
def watch(seconds: float) -> Iterator[None]:
    """Raises DeadlineExceeded in the block once `seconds` have passed (at once if none are
    left); no timer outside the main thread."""
    if seconds <= 0:
        raise DeadlineExceeded(f"no time left ({seconds:.3f} s)")
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def alarm(signum: int, frame: object) -> None:
        raise DeadlineExceeded(f"not done within {seconds:.3f} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
