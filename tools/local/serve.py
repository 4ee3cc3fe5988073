"""`make local`: the whole API on 127.0.0.1, without Docker or an AWS account.

    python -m tools.local.serve [--stage dev] [--port 3000] [--data FILE] [--parameter NAME=VALUE]

1. moto's server starts in this process on a free loopback port: the in-memory AWS.
2. The stage's stack is created in it from dist/template.json and dist/params/<stage>.json,
   through the same checks, uploads and CloudFormation create as a deploy (tools.local.stack);
   each --parameter (`make local LOCAL_PARAMS='CorsAllowOrigin=http://127.0.0.1:8080 ...'`)
   replaces a stage file value for this local stack only, checked as a stage file is.
3. LocalApi serves the template's routes on 127.0.0.1:PORT, running the built artifacts
   (dist/artifacts, unpacked) with each function's environment from the local stack.
4. A poller per stream mapping feeds the table's stream to its function (tools.local.streams).
5. One console line per request (method, path, status, milliseconds). Ctrl-C (or SIGTERM)
   stops it all cleanly and, with --data, saves the data first (tools.local.snapshot).

The HTTP server is werkzeug's threaded one (a thread per connection, HTTP/1.1 keep-alive), with
a listen backlog of 1024 so a burst of clients is queued, not dropped. Connections are taken
concurrently, but one invocation runs at a time, of any function (tools.local.app: the process
has one sys.modules and one os.environ): Lambda's one invocation per execution environment, as
if each function had one environment and the account a concurrency of 1. The others wait for
their turn, so a slow handler delays them.

Hot reload: before each invocation, the function's source files and the layer package's
(functions/<name>/, functions/shared/: the files the build zips) are compared with
what was unpacked (path, mtime, size); a change is copied into the work dir and that function
imports its code again, a new cold start (console: `reloaded <function>`). dist/ is never
written; the layer's pinned libraries, requirements.txt and templates/ need a restart.

Stopping (Ctrl-C or SIGTERM, within a few seconds even under load): the server stops accepting,
the requests still waiting for their turn are answered 503 at once, the one running gets up to
DRAIN_SECONDS to finish (else its client is dropped), then the pollers stop, LOCAL_DATA is saved
and moto stops; "stopped" is the last line.

Not emulated: auth (AuthType: API keys, IAM), API Gateway request validation, caching,
throttling, Lambda timeouts and concurrency limits (see tools.local.app).
"""

import argparse
import gc
import logging
import os
import signal
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from tools import ROOT
from tools.deploy.stage_params import ParamsError

from . import moto_compat, snapshot, stack, streams
from .app import LocalApi
from .artifacts import Reloader, unpack
from .routes import LambdaTarget, function_target, read_routes

REGION = "us-west-2"
# Dummy credentials: nothing here may reach a real account.
LOCAL_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
    "POWERTOOLS_DEV": "false",
}


DRAIN_SECONDS = 2.0  # a stop waits this long at most for the request that is running


class Server(ThreadedWSGIServer):
    """werkzeug's threaded server (what make_server(..., threaded=True) builds; its handler
    threads are daemons, so none holds the exit), with room in the listen backlog for a burst
    of connects: with wsgiref's 5, the kernel dropped most of 100 clients' connects and their
    retries took up to 28 s; werkzeug's 128 holds 100 with little to spare. Linux caps it at
    net.core.somaxconn (4096 since 5.4)."""

    request_queue_size = 1024


class QuietHandler(WSGIRequestHandler):
    """The access log is ours (log_requests), not werkzeug's."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class InFlight:
    """WSGI middleware: counts the requests being answered, so a stop can wait for them."""

    def __init__(self, app: Callable) -> None:
        self.app = app
        self._count = 0
        self._changed = threading.Condition()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        with self._changed:
            self._count += 1
        try:
            return self.app(environ, start_response)
        finally:
            with self._changed:
                self._count -= 1
                self._changed.notify_all()

    def wait(self, timeout: float) -> int:
        """Wait until none is being answered, `timeout` seconds at most; how many still are."""
        with self._changed:
            self._changed.wait_for(lambda: self._count == 0, timeout)
            return self._count


def say(line: str) -> None:
    """A console line, out at once (stdout is a pipe under make and the tests)."""
    print(line, flush=True)


def log_requests(app: Callable, out: Callable[[str], None]) -> Callable:
    """WSGI middleware: one line per request, after its answer is computed."""

    def logged(environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        status = []

        def record(line: str, headers: list, exc_info: Any = None) -> Callable:
            status.append(line.split(" ", 1)[0])
            return start_response(line, headers, exc_info)

        body = app(environ, record)
        query = environ.get("QUERY_STRING")
        path = environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
        elapsed = (time.perf_counter() - started) * 1000
        out(f"{environ['REQUEST_METHOD']} {path} {status[0] if status else '-'} {elapsed:.1f} ms")
        return body

    return logged


def start_aws(region: str) -> Any:
    """moto's server on a free loopback port, and this process's boto3 pointed at it."""
    from moto.server import ThreadedMotoServer

    moto_compat.apply()
    # moto's server logs every call, and its CloudFormation warns of each type it skips (alarms,
    # stages, ...: see README); the console is for our requests.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("moto").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=UserWarning, module="moto")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(LOCAL_ENVIRONMENT)
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://{host}:{port}", AWS_REGION=region, AWS_DEFAULT_REGION=region
    )
    for key in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        os.environ.pop(key, None)
    return server


class Local:
    """Everything `make local` runs, started and stopped together (tests use it too)."""

    def __init__(self, stage: str, stack_name: str, region: str, dist: Path, data: Path | None,
                 log: Callable[[str], None] = print,
                 parameters: dict[str, str] | None = None) -> None:  # fmt: skip
        import boto3

        self.log, self.data = log, data
        self.aws = start_aws(region)
        try:
            self.stack = stack.create(
                stage, stack_name, region, dist, ROOT / "params", overrides=parameters
            )
        except BaseException:
            self.aws.stop()
            raise
        moto_compat.detach_stream_mappings()  # the StreamPollers below deliver instead
        session = boto3.Session(region_name=region)
        self.dynamodb, self.s3 = session.client("dynamodb"), session.client("s3")
        restored = None
        if data is not None:
            restored = snapshot.load(
                data, self.stack.template, self.stack.physical, self.dynamodb, self.s3
            )
            log(f"LOCAL_DATA {data}: {restored['items']} items, {restored['objects']} objects")
        self._workdir = tempfile.TemporaryDirectory(prefix="items-api-local-")
        workdir = Path(self._workdir.name)
        functions_dir, layer_dirs = unpack(dist, workdir)
        values = {**self.stack.parameters, "AWS::StackName": stack_name, "AWS::Region": region}
        self.api = LocalApi(
            self.stack.template,
            values,
            stage=stage,
            functions_dir=functions_dir,
            layer_dirs=layer_dirs,
            environments=self.stack.environments,
            refresh=Reloader(workdir, sorted(p.name for p in workdir.iterdir()), log),
        )
        self.pollers = self._pollers(session, values, restored is not None)

    def _pollers(self, session: Any, values: dict, restored: bool) -> list[streams.StreamPoller]:
        targets = {
            r.target.function_id: r.target
            for r in read_routes(self.stack.template, values)
            if isinstance(r.target, LambdaTarget)
        }
        pollers = []
        for mapping in streams.read_mappings(self.stack.template, values):
            table = self.stack.physical[mapping.table_id]
            arn = self.dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
            queue = self.stack.physical.get(mapping.on_failure or "")
            target = targets.get(mapping.function_id) or self._target(mapping.function_id, values)
            poller = streams.StreamPoller(
                mapping,
                arn,
                lambda _, event, target=target: self.api.invoke(target, event),
                session.client("dynamodbstreams"),
                session.client("sqs"),
                queue,
                log=self.log,
                # Restored rows are in the audit trail already: start after them.
                starting_position="LATEST" if restored else None,
            )
            poller.start()
            pollers.append(poller)
        return pollers

    def _target(self, function_id: str, values: dict) -> LambdaTarget:
        return function_target(self.stack.template, function_id, values)

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()
        if self.data is not None:
            saved = snapshot.save(
                self.data, self.stack.template, self.stack.physical, self.dynamodb, self.s3
            )
            self.log(f"LOCAL_DATA {self.data}: saved {saved['items']} items, "
                     f"{saved['objects']} objects")  # fmt: skip
        self.aws.stop()
        self._workdir.cleanup()


def banner(base: str, stage: str, aws_endpoint: str, stack_name: str, seconds: float) -> str:
    return "\n".join(
        [
            f"items-api local, stage {stage}: {base}  (ready in {seconds:.1f} s)",
            f"  curl -s -X POST {base}/items -H 'Content-Type: application/json' "
            """-d '{"id": "first", "name": "hello"}'""",
            f"  curl -s {base}/items/first",
            f"  local AWS (moto): {aws_endpoint}, stack {stack_name}",
            "Ctrl-C stops.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", default="dev", help="dev, test or prod (default dev)")
    parser.add_argument("--port", type=int, default=3000, help="default 3000; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (loopback)")
    parser.add_argument("--data", type=Path, help="LOCAL_DATA: keep the data in this JSON file")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="the built dist/")
    parser.add_argument("--region", default=REGION)
    parser.add_argument(
        "--parameter", action="append", default=[], metavar="NAME=VALUE",
        help="a parameter value over params/<stage>.json for this local stack only "
        "(repeatable), e.g. CorsAllowOrigin=http://127.0.0.1:8080",
    )  # fmt: skip
    args = parser.parse_args(argv)
    malformed = [p for p in args.parameter if "=" not in p or not p.split("=", 1)[0]]
    if malformed:
        print(f"make local: LOCAL_PARAMS: {', '.join(malformed)}: each is NAME=VALUE",
              file=sys.stderr)  # fmt: skip
        return 2
    parameters = dict(p.split("=", 1) for p in args.parameter)
    started = time.monotonic()
    stack_name = f"items-api-{args.stage}"
    from tools.deploy import cli as deploy  # its errors name the file and what is allowed

    # Bound first: a port in use fails at once (werkzeug says so, exit 1), not after the stack.
    # Its app is set once the stack is up: nothing is answered before serve_forever (early
    # connects wait in the backlog).
    server = Server(args.host, args.port, lambda environ, start_response: [], QuietHandler)
    try:
        local = Local(args.stage, stack_name, args.region, args.dist, args.data, log=say,
                      parameters=parameters)  # fmt: skip
    except (deploy.DeployError, ParamsError, snapshot.SnapshotError) as error:
        server.server_close()
        print(f"make local: {error}", file=sys.stderr)
        return 2
    in_flight = InFlight(log_requests(local.api, say))
    server.app = in_flight
    host, port = server.server_address[:2]
    stopping = threading.Event()

    def stop(*_: Any) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(
        banner(f"http://{host}:{port}", args.stage, os.environ["AWS_ENDPOINT_URL"], stack_name,
               time.monotonic() - started),
        flush=True,
    )  # fmt: skip
    try:
        server.serve_forever()  # until stop(); werkzeug's closes the listening socket after
    finally:
        local.api.close()  # the requests waiting for their turn: 503 now
        running = in_flight.wait(DRAIN_SECONDS)
        if running:
            say(f"stopping: {running} request(s) still running after {DRAIN_SECONDS:.0f} s, "
                "dropped")  # fmt: skip
        local.stop()
        say("stopped")
    return 0


if __name__ == "__main__":
    code = main()
    # Exit without one more collection of the heap (moto's, boto3's: some 350,000 objects),
    # which took about 1 s of a stop; what needs closing was closed by main.
    gc.freeze()
    sys.exit(code)
