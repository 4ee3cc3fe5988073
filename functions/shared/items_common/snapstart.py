"""SnapStart (the `SnapStart` parameter): Lambda initializes a function once, when its version is
published, and resumes many execution environments from that one snapshot. What init leaves in
memory is therefore shared by all of them, so nothing unique may be made at import
(https://docs.aws.amazon.com/lambda/latest/dg/snapstart-uniqueness.html):

- ids (uuid4) come from os.urandom, in the request; boto3 clients (credentials, connections) are
  made on first use, in the request (aws.py, dynamo.py); our retry jitter draws from
  random.SystemRandom (dynamo.pause);
- `random`'s global state is seeded when the module is imported, at init, so every restored
  environment would draw the same sequence, and botocore's retry jitter uses it: environments
  restored together would retry in step. `reseed` runs after each restore, through the runtime
  hook of the Snapshot Restore for Python library, which Lambda's Python runtimes include
  (https://docs.aws.amazon.com/lambda/latest/dg/snapstart-runtime-hooks-python.html).
"""

import random


def reseed() -> None:
    """This environment's own `random` state (from os.urandom)."""
    random.seed()


def register() -> None:
    """Run `reseed` after every restore; nothing where no snapshot is ever restored (the library
    is missing: tests, `make local`), or where SnapStart is off (the hook never runs)."""
    try:
        from snapshot_restore_py import register_after_restore
    except ImportError:
        return
    register_after_restore(reseed)
