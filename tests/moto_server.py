"""moto_server on loopback for the tests that run make targets against it (deploy rehearsal,
operations): start it, point a make run at it, and read it back with boto3."""

import os
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests import checkout
from tests.cfn import ROOT
from tools.local import moto_compat

REGION = "us-west-2"


def start(log: Path) -> tuple[subprocess.Popen, str]:
    """moto_server (with tools.local.moto_compat's patches) on a free port: (process, endpoint)."""
    try:
        return moto_compat.start_server(log, seconds=30)
    except RuntimeError as error:
        pytest.fail(str(error))


def environment(endpoint: str) -> dict[str, str]:
    """This process's environment with AWS pointed at moto (dummy credentials)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MAKE"))}
    return {
        **base,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


def make(env: dict, target: str, stage: str = "test", stdin: str = "",
         **variables: str) -> subprocess.CompletedProcess:  # fmt: skip
    """`make <target> STAGE=<stage> REGION=... VAR=value...` against moto."""
    checkout.ensure_built()
    extra = [f"{k}={v}" for k, v in variables.items()]
    return subprocess.run(
        ["make", "--no-print-directory", target, f"STAGE={stage}", f"REGION={REGION}", *extra],
        cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def client(env: dict, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
