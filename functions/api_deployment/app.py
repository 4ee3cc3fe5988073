"""Custom::ApiDeployment: a new API Gateway deployment whenever the API changes.

CloudFormation makes a deployment only for a new AWS::ApiGateway::Deployment resource, never for
a parameter edit; this resource's properties carry the API-shaping parameters and a hash of the
definition, so any change sends an Update and the stage moves to the deployment made here
(templates/api_deployment.py). CloudFormation waits up to an hour for an answer, so every path
answers it, in time, and the handler never raises (Lambda's async retry would run it again)."""

import json
import logging
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.client import HTTPException
from typing import Any

import boto3
from botocore.config import Config

logger = logging.getLogger("api_deployment")

# The function's Timeout is 60 s. The work gets it minus this margin, kept back to answer.
TIMEOUT_MARGIN_S = 5.0
# CreateDeployment allows 1 request per 5 s per account. Standard mode waits rand(0, 2**i) s
# between attempts: up to 1+2+4+8+16 = 31 s (about 15 s on average) over 6 attempts, so
# throttling by a neighbour stack is outlasted within the 55 s budget.
MAX_ATTEMPTS = 6
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 15.0  # a deployment of a small API takes a second or two
# The answer (a PUT to S3): a few quick tries inside the margin.
ANSWER_ATTEMPTS = 4
ANSWER_TIMEOUT_S = 2.0
ANSWER_BACKOFF_S = 0.5  # doubled after each failed try
DESCRIPTION_MAX = 200
REASON_MAX = 1000
# What the log shows of an event: not ResponseURL, a presigned (secret-bearing) URL.
LOGGED = ("RequestType", "LogicalResourceId", "PhysicalResourceId", "RequestId")
ECHOED = ("StackId", "RequestId", "LogicalResourceId")  # copied to the answer


class DeadlineExceeded(BaseException):
    """The watchdog's alarm. Not an Exception (nor a TimeoutError): urllib3 and botocore turn
    any Exception raised in a socket read into a retryable connection error, and the deadline
    would be retried away."""


def lambda_handler(event: dict, context: Any) -> None:
    """Does the request under a deadline, then answers CloudFormation whatever happened."""
    logger.info("request", extra={k: event.get(k) for k in LOGGED})
    try:
        with _watchdog(context.get_remaining_time_in_millis() / 1000 - TIMEOUT_MARGIN_S):
            physical_id, data = _handle(event)
        answer = _answer(event, "SUCCESS", physical_id, _log_hint(context), data)
    except (Exception, DeadlineExceeded) as error:
        logger.exception("request failed")
        answer = _answer(event, "FAILED", _failed_id(event), _reason(error, context), {})
    try:
        _put(event["ResponseURL"], answer, context)
    except Exception:
        logger.exception("could not answer CloudFormation")


@contextmanager
def _watchdog(seconds: float) -> Iterator[None]:
    """Raises DeadlineExceeded after `seconds` wherever the handler is blocked (a hung socket,
    a retry's sleep): client timeouts bound one attempt, this bounds them all. Lambda runs the
    handler in the main thread, where signals are delivered."""
    if seconds <= 0:
        raise DeadlineExceeded("no time left before the answer margin")

    def alarm(signum: int, frame: object) -> None:
        raise DeadlineExceeded(f"not done within {seconds:.1f} s (timeout minus margin)")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _handle(event: dict) -> tuple[str, dict]:
    """The physical ID and Data of a successful request."""
    request_type = event["RequestType"]
    if request_type == "Delete":
        # Deleting the REST API deletes its deployments; an old one after an update is history.
        return event["PhysicalResourceId"], {}
    if request_type not in ("Create", "Update"):
        raise ValueError(f"unknown RequestType {request_type!r}")
    props = event.get("ResourceProperties") or {}
    rest_api_id = _required(props, "RestApiId")
    description = _description(event, _required(props, "ApiHash"))
    deployment = _client().create_deployment(restApiId=rest_api_id, description=description)
    deployment_id = deployment["id"]
    logger.info("deployment created", extra={"DeploymentId": deployment_id, "what": description})
    return deployment_id, {"DeploymentId": deployment_id}


def _required(props: dict, name: str) -> str:
    value = props.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"ResourceProperties.{name} is missing or empty")
    return value


def _client() -> Any:
    """Made per request, never at import (nothing credential-bound at import). No stage: the
    Stage resource points at the deployment's id."""
    config = Config(
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
    )
    return boto3.client("apigateway", config=config)


def _description(event: dict, api_hash: str) -> str:
    """Says what the deployment is for, as the stage's deployment history shows it."""
    what = "created"
    if event["RequestType"] == "Update":
        what = "changed: " + (", ".join(_changed(event)) or "nothing tracked")
    digest = api_hash.removeprefix("sha256:")[:12]
    text = f"{event.get('LogicalResourceId')}: api {digest}; {what}"
    return text if len(text) <= DESCRIPTION_MAX else text[: DESCRIPTION_MAX - 3] + "..."


def _changed(event: dict) -> list[str]:
    """The parameters whose value differs from the old properties (sorted), and "definition"."""
    new, old = event["ResourceProperties"], event.get("OldResourceProperties") or {}
    now, was = new.get("Parameters") or {}, old.get("Parameters") or {}
    names = sorted(k for k in now.keys() | was.keys() if now.get(k) != was.get(k))
    return [*names, "definition"] if new.get("ApiHash") != old.get("ApiHash") else names


def _failed_id(event: dict) -> str:
    """On a failed Create, a placeholder: CloudFormation sends a Delete with it on rollback."""
    return event.get("PhysicalResourceId") or f"{event.get('LogicalResourceId')}-not-created"


def _log_hint(context: Any) -> str:
    return f"see CloudWatch log stream {getattr(context, 'log_stream_name', '?')}"


def _reason(error: BaseException, context: Any) -> str:
    hint = f" ({_log_hint(context)})"
    return f"{type(error).__name__}: {error}"[: REASON_MAX - len(hint)] + hint


def _answer(event: dict, status: str, physical_id: str, reason: str, data: dict) -> dict:
    echoed = {k: event.get(k) for k in ECHOED}
    answer = {"Status": status, "Reason": reason, "PhysicalResourceId": physical_id}
    return answer | echoed | {"NoEcho": False, "Data": data}


def _put(url: str, answer: dict, context: Any) -> None:
    """PUTs the answer to the presigned URL, signed without a Content-Type (so an empty one).
    Retried on network errors and 5xx while time is left; a 4xx is final. Never raises."""
    body = json.dumps(answer).encode()
    headers = {"Content-Type": "", "Content-Length": str(len(body))}
    request = urllib.request.Request(url, data=body, headers=headers, method="PUT")
    delay = ANSWER_BACKOFF_S
    for attempt in range(1, ANSWER_ATTEMPTS + 1):
        left = context.get_remaining_time_in_millis() / 1000
        try:
            with urllib.request.urlopen(request, timeout=max(min(ANSWER_TIMEOUT_S, left), 0.1)):
                logger.info("answered", extra={"status": answer["Status"], "attempt": attempt})
                return
        except urllib.error.HTTPError as error:
            failure: Exception = error
            if error.code < 500:
                break
        except (OSError, HTTPException) as error:
            failure = error
        logger.warning("answer not delivered", extra={"attempt": attempt, "error": str(failure)})
        if context.get_remaining_time_in_millis() / 1000 <= delay + 0.1:
            break
        time.sleep(delay)
        delay *= 2
    logger.error("could not answer CloudFormation", extra={"answer": answer})
