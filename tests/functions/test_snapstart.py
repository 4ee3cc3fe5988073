"""SnapStart (#17 item 7): one initialized snapshot resumes many execution environments, so a
handler may make nothing unique at import, and `random` is reseeded after each restore
(items_common/snapstart.py).
https://docs.aws.amazon.com/lambda/latest/dg/snapstart-uniqueness.html"""

import json
import os
import random
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import pytest

from tests.cfn import ROOT
from tests.handlers import FUNCTIONS_DIR

HANDLERS = sorted(
    p.parent.name for p in FUNCTIONS_DIR.glob("*/app.py") if p.parent.name != "api_deployment"
)

# Imports one handler as Lambda's init does and reports what the import made.
PROBE = r"""
import json, random, sys, importlib.util
sys.path[:0] = [sys.argv[2], sys.argv[3]]
import botocore.client
made = []
original = botocore.client.ClientCreator.create_client
def counted(self, *args, **kwargs):
    made.append(args[:1])
    return original(self, *args, **kwargs)
botocore.client.ClientCreator.create_client = counted
before = random.getstate()
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
print(json.dumps({"clients": len(made), "random_used": random.getstate() != before}))
"""


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory) -> dict[str, Path]:
    """dist/'s artifacts unzipped as Lambda lays them out: name -> folder (the layer's python/
    under "layer")."""
    manifest = json.loads((ROOT / "dist" / "manifest.json").read_text())
    base = tmp_path_factory.mktemp("lambda")
    folders = {}
    for name, entry in manifest["artifacts"].items():
        folders[name] = base / name
        with zipfile.ZipFile(ROOT / "dist" / entry["file"]) as zf:
            zf.extractall(folders[name])
    folders["layer"] = folders["layer"] / "python"
    return folders


@pytest.mark.parametrize("name", HANDLERS)
def test_init_makes_no_client_and_draws_no_randomness(name, unpacked):
    """What init makes is in the snapshot: a client (credentials, open connections) or a random
    draw there would be shared by every restored environment."""
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-west-2", "PYTHONDONTWRITEBYTECODE": "1"}
    task = unpacked[name]
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(task / "app.py"), str(unpacked["layer"]), str(task)],
        capture_output=True, text=True, check=True, env=env, cwd=ROOT,
    )  # fmt: skip
    assert json.loads(out.stdout.splitlines()[-1]) == {"clients": 0, "random_used": False}


def _draws_after_restore(hook) -> list[float]:
    """What two environments restored from one snapshot of this process draw first from
    `random`: a restore brings back the memory, `random`'s state included. (Not a fork: CPython
    reseeds `random` in a forked child, Firecracker does not.)"""
    snapshot = random.getstate()
    draws = []
    for _ in range(2):
        random.setstate(snapshot)
        hook()
        draws.append(random.random())
    return draws


def test_random_is_reseeded_after_a_restore():
    from items_common import snapstart

    same = _draws_after_restore(lambda: None)
    assert same[0] == same[1]  # why the hook exists: botocore's jitter would retry in step
    reseeded = _draws_after_restore(snapstart.reseed)
    assert reseeded[0] != reseeded[1]


def test_our_jitter_never_reads_the_shared_random_state(monkeypatch):
    from items_common import dynamo

    slept: list[float] = []
    monkeypatch.setattr(dynamo.time, "sleep", slept.append)
    state = random.getstate()
    dynamo.pause(2)
    assert random.getstate() == state and 0 <= slept[0] <= dynamo.BACKOFF_S * 4


def test_the_hook_is_registered_with_the_runtimes_library(monkeypatch):
    """snapshot_restore_py ships with Lambda's Python runtimes, not on PyPI's path here: a
    stand-in records what the module registers."""
    from items_common import snapstart

    registered: list = []
    library = types.ModuleType("snapshot_restore_py")
    library.register_after_restore = registered.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", library)
    snapstart.register()
    assert registered == [snapstart.reseed]
