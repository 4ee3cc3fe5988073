"""The boto3 clients every module shares: short timeouts and standard retries, so a slow AWS
call fails within the function's timeout instead of hanging it. Made on first use (cheap import;
under moto, made inside the mock)."""

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

CONFIG = Config(connect_timeout=3, read_timeout=5, retries={"mode": "standard"})


@cache
def s3() -> Any:
    return boto3.client("s3", config=CONFIG)
