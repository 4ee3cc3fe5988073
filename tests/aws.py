"""The AWS the tests run against: moto, in one region, with dummy credentials (so nothing can
reach a real account)."""

from collections.abc import Callable
from typing import Any

import botocore.loaders
import botocore.session

REGION = "us-west-2"
ACCOUNT_ID = "123456789012"  # moto's default account
# What aws_env sets for each test that talks to moto in-process.
ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "STAGE": "test",
    "LOG_LEVEL": "INFO",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_METRICS_NAMESPACE": "items-api-test",
}
# Unset for those tests: a profile or endpoint of the shell's would lead elsewhere.
UNSET = ("AWS_PROFILE", "AWS_ENDPOINT_URL")


class _SearchPaths(list):
    """A loader's search paths, each once: every boto3 Session appends boto3's data directory
    to its loader's, and here every session has the same loader."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


def shared_loader_factory() -> Callable[[str | None], Any]:
    """botocore.session.create_loader, but one loader per search path for the whole process.

    Each test makes new boto3 sessions (moto's mock_aws gives each its own default session, the
    hooks fixtures make their own), and each new session's loader parsed the service models'
    JSON again: a tenth of a second or more per test. The files never change, and a loader only
    reads them, so every session may share one (as every client of one session does)."""
    real = botocore.session.create_loader
    loaders: dict[str | None, botocore.loaders.Loader] = {}

    def create_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
        if search_path_string not in loaders:
            loader = real(search_path_string)
            loader._search_paths = _SearchPaths(loader.search_paths)
            loaders[search_path_string] = loader
        return loaders[search_path_string]

    return create_loader
