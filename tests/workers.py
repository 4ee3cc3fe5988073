"""How pytest-xdist spreads the tests over its workers (make test: -n auto --dist loadfile):

- each test module's tests on one worker, so its module fixtures (moto_server, make local, a
  deploy) are made once;
- the modules that write the same file of the checkout on the same worker, one after the
  other, so they never write it at once;
- the modules of few but long tests first (xdist would start them last, as it starts the
  modules with the most tests first), so no worker is left running one alone at the end.

(--dist loadgroup with xdist_group marks could say the first two, but pytest-xdist 3.8 cannot
rename pytest 9.2's node IDs, so its groups are ignored.)"""

from typing import Any

from xdist.scheduler import LoadFileScheduling

# A file of the checkout -> the test modules that write it.
SHARED_FILES = {
    # `make deploy STAGE=dev` writes the parameter overrides it deploys with there.
    "dist/deploy/dev.json": (
        "tests/tools/deploy/test_operations.py",
        "tests/tools/deploy/test_preflight.py",
    ),
}
SCOPES = {
    module: f"writers of {path}" for path, modules in SHARED_FILES.items() for module in modules
}
# Started first, longest first (each some 20 to 60 s of a worker's time).
LONG = (
    "writers of dist/deploy/dev.json",
    "tests/tools/local/test_moto_compat.py",
    "tests/tools/local/test_model_based.py",
    "tests/tools/deploy/test_operator_paths.py",
    "tests/tools/local/test_fuzz.py",
    "tests/tools/local/test_local_server.py",
    "tests/tools/local/test_browser.py",
    "tests/tools/deploy/test_deploy_rehearsal.py",
)


class Scheduling(LoadFileScheduling):
    """--dist loadfile, with the writers of a shared file as one work unit, LONG ones first."""

    def _split_scope(self, nodeid: str) -> str:
        module = super()._split_scope(nodeid)
        return SCOPES.get(module, module)

    def _assign_work_unit(self, node: Any) -> None:
        for scope in reversed(LONG):
            if scope in self.workqueue:
                self.workqueue.move_to_end(scope, last=False)
        super()._assign_work_unit(node)
