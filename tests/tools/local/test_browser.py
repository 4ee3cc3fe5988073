"""A real browser on another origin uses every route (#16 item 13): `make local` serves the API on
one loopback port with CorsAllowOrigin set to the page's origin, this test serves
tests/browser/page.html on another port, and tests/browser/e2e.mjs drives Debian's headless
Chromium (playwright-core from .browser/) to run every route from the page with fetch():
POST with Idempotency-Key and its retry, GET reading the ETag, PUT with If-Match and a stale
If-Match (412), PATCH as application/merge-patch+json, DELETE with If-Match, the listing and
versions, the error bodies (400, 404, 409, 422) and API Gateway's own 403. Any fetch that throws
(a CORS block) or any console CORS message fails it. Twice: credentials false (the browser's
default mode; no Allow-Credentials header at all) and true (fetch with credentials: "include",
which a browser admits only with the exact origin and `Access-Control-Allow-Credentials: true`
on the preflight and the answer).

`make test` installs what it needs first (`make browser`); a missing browser is a failure that
names that target, never a skip. About 10 s per run on this machine."""

import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.cfn import ROOT
from tests.local_process import LocalApi

pytestmark = pytest.mark.slow  # make local and Chromium

PAGE_DIR = ROOT / "tests" / "browser"
SCRIPT = PAGE_DIR / "e2e.mjs"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
PLAYWRIGHT = ROOT / ".browser" / "node_modules" / "playwright-core" / "package.json"
RUN_SECONDS = 240

# step -> the status the contract gives it (docs/api.md)
STATUSES = {
    "health": 200,
    "openapi": 200,
    "create": 201,
    "create-retry": 201,
    "create-key-reused": 422,
    "create-conflict": 409,
    "get": 200,
    "put": 200,
    "put-stale": 412,
    "patch": 200,
    "list": 200,
    "versions": 200,
    "not-found": 404,
    "bad-json": 400,
    "bad-limit": 400,
    "delete": 204,
    "get-deleted": 404,
    "unknown-route": 403,
}
ERROR_CODES = {
    "create-key-reused": "IDEMPOTENCY_KEY_REUSED",
    "create-conflict": "CONFLICT",
    "put-stale": "PRECONDITION_FAILED",
    "not-found": "NOT_FOUND",
    "bad-json": "INVALID_JSON",
    "bad-limit": "INVALID_LIMIT",
    "get-deleted": "NOT_FOUND",
}
ETAGS = {"create": '"1"', "create-retry": '"1"', "get": '"1"', "put": '"2"', "patch": '"3"'}


def require_browser() -> str:
    """node's path; fails (never skips) naming the make target when something is missing."""
    node = shutil.which("node")
    missing = [
        what
        for what, there in (
            (f"Debian's Chromium ({CHROMIUM})", CHROMIUM.is_file()),
            ("node", node is not None),
            ("playwright-core in .browser/node_modules", PLAYWRIGHT.is_file()),
        )
        if not there
    ]
    if missing:
        pytest.fail(
            f"the browser test needs {', '.join(missing)}: run `make browser` (as root it "
            "installs Chromium with apt-get, and playwright-core with npm ci); `make test` runs "
            "it first"
        )
    assert node
    return node


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_origin() -> Iterator[str]:
    """tests/browser/ served on its own loopback port (one the OS picks): the page's origin."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietFiles, directory=str(PAGE_DIR)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def preflight(base: str, origin: str, path: str) -> tuple[int, dict[str, str]]:
    """The OPTIONS a browser sends before a PUT with If-Match, read without a browser."""
    request = urllib.request.Request(
        base + path, method="OPTIONS",
        headers={"Origin": origin, "Access-Control-Request-Method": "PUT",
                 "Access-Control-Request-Headers": "content-type,if-match"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status, dict(answer.headers)


def run_browser(node: str, page: str, api: str, credentials: bool) -> tuple[int, dict, float]:
    started = time.monotonic()
    done = subprocess.run(
        [node, str(SCRIPT), "--page", page, "--api", api,
         *(["--credentials"] if credentials else [])],
        cwd=ROOT, capture_output=True, text=True, timeout=RUN_SECONDS,
    )  # fmt: skip
    seconds = time.monotonic() - started
    try:
        result = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"e2e.mjs printed no result (exit {done.returncode}):\n{done.stdout}\n"
                    f"{done.stderr}")  # fmt: skip
    return done.returncode, result, seconds


@pytest.mark.parametrize("credentials", [False, True], ids=["credentials-false", "credentials"])
def test_a_page_on_another_origin_uses_every_route(page_origin, credentials):
    node = require_browser()
    values = {"CorsAllowOrigin": page_origin, "CorsAllowCredentials": str(credentials).lower()}
    api = LocalApi("dev", LOCAL_PARAMS=" ".join(f"{k}={v}" for k, v in values.items()))
    api.wait_ready()
    try:
        status, head = preflight(api.base, page_origin, "/items/x")
        code, result, seconds = run_browser(node, f"{page_origin}/page.html", api.base, credentials)
    finally:
        api.stop()

    # The preflight, as the browser got it: the credentials header only when true.
    assert status == 204
    assert head["Access-Control-Allow-Origin"] == page_origin
    assert head.get("Access-Control-Allow-Credentials") == ("true" if credentials else None)
    assert {"If-Match", "Idempotency-Key", "Content-Type"} <= set(
        head["Access-Control-Allow-Headers"].split(",")
    )

    report = json.dumps({k: result.get(k) for k in ("failures", "cors_messages")}, indent=1)
    assert (code, result["failures"], result["cors_messages"]) == (0, [], []), report
    assert result["origin"] == page_origin and not api.base.startswith(page_origin)
    steps = {s["name"]: s for s in result["steps"]}
    wrong = {n: s for n, s in steps.items() if s.get("status") != STATUSES.get(n)}
    assert {name: s.get("status") for name, s in steps.items()} == STATUSES, (wrong, api.output())
    for name, code_expected in ERROR_CODES.items():
        assert steps[name]["body"]["error"]["code"] == code_expected, steps[name]
        assert set(steps[name]["body"]["error"]) >= {"code", "message"}
    # ETag is exposed: the page reads it from every item answer.
    assert {name: steps[name]["headers"].get("etag") for name in ETAGS} == ETAGS
    assert steps["create-retry"]["body"] == steps["create"]["body"]  # the same item, replayed
    item_id = result["id"]
    assert steps["put"]["body"]["name"] == "second"
    assert "name" not in steps["patch"]["body"] and steps["patch"]["body"]["colour"] == "blue"
    assert item_id in {i["id"] for i in steps["list"]["body"]["items"]}
    assert steps["versions"]["body"]["items"]
    assert steps["health"]["body"]["status"] == "ok"
    assert steps["openapi"]["body"]["openapi"].startswith("3.")
    assert steps["unknown-route"]["body"] == {"message": "Missing Authentication Token"}
    assert all(
        s["headers"]["content-type"] == "application/json"
        for s in result["steps"]
        if s["status"] != 204
    )
    print(f"browser run ({'credentials' if credentials else 'no credentials'}): "
          f"{seconds:.1f} s, Chromium {result.get('version')}")  # fmt: skip
