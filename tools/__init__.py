"""Everything around the product that runs: the Makefile's targets call these modules.

- deploy: `make deploy/plan/preflight/outputs/logs/destroy` (`python -m tools.deploy`), with the
  stage files' checks (stage_params) and the stack policy, which the build uses as well;
- local: `make local`, the template's API served on loopback with moto, and moto's gaps patched
  (local/moto_compat.py);
- scan: `make scan`, checkov and cfripper;
- diagram: `make diagram`; parameter_docs: `make docs`; bench: `make bench`;
- intrinsics: CloudFormation's intrinsics (Ref, GetAtt, Sub, If, conditions, pseudo parameters,
  Rules), the one reader of them: the build's checks, the deploy, the local emulator, the
  diagram and the tests use it.
"""

from pathlib import Path

# The repository: where dist/, params/, functions/ and docs/ are.
ROOT = Path(__file__).resolve().parents[1]
