"""`python -m tools.deploy`: the deploy CLI (make deploy/plan/preflight/outputs/logs/destroy)."""

import sys

from tools.deploy.cli import main

sys.exit(main())
