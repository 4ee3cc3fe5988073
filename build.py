#!/usr/bin/env python3
"""Build everything `aws cloudformation deploy` needs, into dist/, with no AWS call.

dist/template.json   the one template, for every stage
dist/artifacts/      one zip per function plus the layer, named <name>-<sha256>.zip
dist/params/<s>.json every parameter but ArtifactBucket, as ["Key=Value", ...]: the stage's
                     values, the artifacts' S3 keys, and every other parameter's Default
dist/stack-policy.json  the prod stack's policy: no replacing or deleting stateful resources
dist/deploy-role.json   the second template: CI/CD's OIDC provider and roles (`make deploy-role`)
dist/openapi.json    the API's OpenAPI document (default prefix), also in the openapi zip
dist/manifest.json   the templates', the stack policy's, the OpenAPI document's and every
                     artifact's sha256 and size (and the artifacts' S3 keys)

Bytecode: next to every .py of the layer and the functions, each zip holds
__pycache__/<module>.cpython-3XX.pyc for every runtime the Runtime parameter allows, compiled by
that runtime's own CPython (found with pyenv, uv or PATH; PYTHON313=/path overrides), hash-based
and unchecked (Lambda never compares it with the source), under the path Lambda sees
(/opt/python/..., /var/task/...).

Same sources and toolchain, same bytes, from any checkout: zips have sorted entries, fixed
timestamps and permissions, and none of the sources' own __pycache__; the layer keeps no console
script or pip RECORD (both hold the installing interpreter's path); JSON has a fixed layout.

Incremental: .cache/build/ keeps each zip under the hash of its inputs (every file's relative
path and bytes, this file, the compilers' versions) and the generated files under the hash of
what generates them (build.py, pyproject.toml, templates/, params/, functions/, tools/, the
installed packages); an unchanged input is reused, a changed one never is. --no-cache rebuilds
it all."""

import hashlib
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
BUILD_FILE = ROOT / "build.py"
FUNCTIONS_DIR = ROOT / "functions"
SHARED_DIR = FUNCTIONS_DIR / "shared"
LAYER_REQUIREMENTS = SHARED_DIR / "requirements.txt"
CACHE_DIR = ROOT / ".cache"
STORE = CACHE_DIR / "build"  # the zips and generated files by the hash of their inputs
S3_PREFIX = "artifacts"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold
SKIPPED = {"__pycache__", ".pytest_cache", ".DS_Store"}
STAGES = ("dev", "test", "prod")  # tools.deploy.stage_params.STAGES, without importing templates
OPENAPI = "openapi"  # the function that serves the document, from its own zip
# pip may install only pure-Python wheels: the layer must run on both architectures.
PIP_TARGET = ["--only-binary=:all:", "--platform", "any", "--implementation", "py",
              "--abi", "none", "--python-version", "3.12", "--no-deps", "--no-compile"]  # fmt: skip
# What pip writes that names the installing interpreter (console scripts' #! line, RECORD's
# hashes of them) or pip itself: not shipped, so the layer is the same from any checkout.
PIP_LEFTOVERS = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")
# The CPython each runtime is compiled with when pyenv has several of its series: what every
# machine of this kind (CI's included) has, so their zips are the same bytes.
PINNED = {"3.12": "3.12.1", "3.13": "3.13.0"}
# Where Lambda puts the code: the pyc's file name, so tracebacks show it, not the build's path.
LAYER_MOUNT, FUNCTION_MOUNT = "/opt/", "/var/task/"
# .cache/build/ keeps the newest entries of each kind (per artifact for zips).
KEEP = {"artifacts": 3, "generated": 4, "params": 8}
# Run by each runtime's CPython (-S, PYTHONHASHSEED=0): compile every job's sources as
# py_compile does with --invalidation-mode unchecked-hash, each job in a fork of the same state,
# so an artifact's pycs depend on its own sources only.
WORKER = r"""
import importlib.util, marshal, os, pickle, sys
jobs = pickle.load(sys.stdin.buffer)
header = importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little")  # hash-based, unchecked
for files in jobs:
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            pycs = []
            for dfile, source in files:
                try:
                    code = compile(source, dfile, "exec", dont_inherit=True, optimize=0)
                except Exception as e:
                    sys.stderr.write(f"{dfile}\t{type(e).__name__}: {e}\n")
                    break
                pycs.append(header + importlib.util.source_hash(source) + marshal.dumps(code))
            else:
                data = pickle.dumps(pycs, 4)
                sys.stdout.buffer.write(len(data).to_bytes(8, "little") + data)
                sys.stdout.buffer.flush()
                status = 0
        finally:
            sys.stderr.flush()
            os._exit(status)
    if os.waitpid(pid, 0)[1]:
        sys.exit(1)
"""
PROBE = (
    "import importlib.util, json, sys; print(json.dumps({'implementation': "
    "sys.implementation.name, 'version': '%d.%d.%d' % sys.version_info[:3], 'release': "
    "sys.version_info.releaselevel, 'cache_tag': sys.implementation.cache_tag, "
    "'magic': importlib.util.MAGIC_NUMBER.hex()}))"
)


class BuildError(Exception):
    """Sources the build cannot turn into a deployable artifact."""


class Artifact:
    """One built zip: the artifact's name, the sha256 and size of its bytes."""

    __slots__ = ("name", "sha256", "size")

    def __init__(self, name: str, sha256: str, size: int) -> None:
        self.name, self.sha256, self.size = name, sha256, size

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.sha256}.zip"

    @property
    def s3_key(self) -> str:
        return f"{S3_PREFIX}/{self.filename}"


def _files(base: Path) -> list[tuple[str, str]]:
    """(path relative to `base`, with /; the file's path) of every file the build may ship."""
    found, root = [], os.fspath(base)
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIPPED]
        prefix = folder[len(root) + 1 :].replace(os.sep, "/")
        found += [
            (f"{prefix}/{n}" if prefix else n, os.path.join(folder, n))
            for n in names
            if n not in SKIPPED and not n.endswith((".pyc", ".pyo"))
        ]
    return sorted(found)


def _digest(items: list[tuple[str, bytes]]) -> str:
    """sha256 of (name, bytes) pairs, each length-delimited so no two lists collide."""
    h = hashlib.sha256()
    for name, data in items:
        h.update(b"%d:%s%d:" % (len(name), name.encode(), len(data)))
        h.update(data)
    return h.hexdigest()


class _Reader:
    """Each input file read once per build: the bytes hashed are the bytes shipped."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def __call__(self, path: str | Path | bytes) -> bytes:
        if isinstance(path, bytes):
            return path
        key = os.fspath(path)
        if key not in self.data:
            with open(key, "rb") as f:
                self.data[key] = f.read()
        return self.data[key]

    def tree(self, label: str, base: Path) -> list[tuple[str, bytes]]:
        return [(f"{label}/{rel}", self(path)) for rel, path in _files(base)]


def deterministic_zip(entries: list[tuple[str, str | Path | bytes]]) -> bytes:
    """Zip (archive name, file or generated bytes) pairs so that equal inputs give equal
    bytes."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for arcname, source in sorted(entries, key=lambda entry: entry[0]):
            info = zipfile.ZipInfo(arcname, date_time=ZIP_EPOCH)
            info.create_system = 3  # unix, so the permissions below are honoured
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = source if isinstance(source, bytes) else Path(source).read_bytes()
            zf.writestr(info, data, compresslevel=6)  # 9: 0.7% smaller, 2.7x slower
    return buffer.getvalue()


def layer_dependencies() -> Path:
    """The layer's pinned libraries, installed once per requirements content into .cache/."""
    digest = hashlib.sha256(
        LAYER_REQUIREMENTS.read_bytes() + " ".join([*PIP_TARGET, *PIP_LEFTOVERS]).encode()
    )
    target = CACHE_DIR / f"layer-deps-{digest.hexdigest()[:16]}"
    if not target.exists():
        import shutil
        import subprocess

        staging = target.with_name(f"{target.name}.partial-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        command = [*pip, "--target", str(staging), *PIP_TARGET, "-r", str(LAYER_REQUIREMENTS)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(
                f"build: installing the layer's libraries from {LAYER_REQUIREMENTS} failed. Every "
                f"line must be a pinned pure-Python wheel (py3-none-any):\n{result.stderr}"
            )
        shutil.rmtree(staging / "bin", ignore_errors=True)  # console scripts: useless in a layer
        for info in staging.glob("*.dist-info"):
            for name in PIP_LEFTOVERS:
                (info / name).unlink(missing_ok=True)
        try:
            staging.rename(target)
        except OSError:  # another build installed the same meanwhile
            shutil.rmtree(staging, ignore_errors=True)
    return target


def openapi_json() -> bytes:
    from templates.openapi import document

    return dump_json(document())


def source_entries(name: str, layer: str) -> list[tuple[str, str]]:
    """(archive name, file) of what artifact `name` takes from functions/: the function's folder,
    or the layer's package under python/ with its data files (item_schema.json), not its
    requirements.txt, which is the build's (pip installs what it pins). make local's hot reload
    compares these files too (tools.local.artifacts)."""
    if name != layer:
        return _files(FUNCTIONS_DIR / name)
    own = os.fspath(LAYER_REQUIREMENTS)
    return [(f"python/{rel}", p) for rel, p in _files(SHARED_DIR) if p != own]


def artifact_entries(
    name: str, layer: str | None = None, openapi: bytes | None = None
) -> list[tuple[str, str | bytes]]:
    """What goes into one artifact's zip, bytecode aside: (archive name, file or generated
    bytes). `openapi`: the document's bytes, when the caller has them."""
    if layer is None:
        from templates.catalog import LAYER as layer
    if name == layer:
        deps = [(f"python/{rel}", p) for rel, p in _files(layer_dependencies())]
        return [*source_entries(name, layer), *deps]
    base = FUNCTIONS_DIR / name
    if not (base / "app.py").is_file():
        raise BuildError(f"{base}/app.py: missing; every function's handler is app.lambda_handler")
    entries: list[tuple[str, str | bytes]] = list(source_entries(name, layer))
    if name == OPENAPI:  # generated, so it cannot drift from the routes; next to app.py
        if (base / "openapi.json").exists():
            raise BuildError(f"{base}/openapi.json: the build generates this file; remove it")
        entries.append(("openapi.json", openapi_json() if openapi is None else openapi))
    return entries


def write_if_changed(path: Path, data: bytes) -> None:
    """Leave an identical file untouched, so make and rsync see no change."""
    if not path.exists() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def dump_json(value: object) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=False) + "\n").encode()


# The runtimes' interpreters --------------------------------------------------------------------


class Interpreter:
    """One runtime's CPython: where it is and what it compiles for."""

    def __init__(self, series: str, path: str, probe: dict) -> None:
        self.series, self.path = series, path
        self.version, self.cache_tag, self.magic = (
            probe["version"],
            probe["cache_tag"],
            probe["magic"],
        )

    @property
    def identity(self) -> str:  # what the bytecode depends on; not where it is installed
        return f"{self.cache_tag} {self.version} {self.magic}"


def _missing(series: str) -> BuildError:
    digits = series.replace(".", "")
    return BuildError(
        f"CPython {series} not found: the build compiles the layer's and the functions' "
        f"bytecode with each runtime's own interpreter (python{series} is an allowed Runtime). "
        f"Install it with `pyenv install {PINNED.get(series, series)}` (or `uv python install "
        f"{series}`), or point PYTHON{digits}=/path/to/python{series} at one. Looked in "
        f"$PYTHON{digits}, pyenv's versions/, `uv python find {series}` and PATH."
    )


def find_interpreter(series: str) -> str:
    """The path of CPython `series` ("3.13"): $PYTHON313, pyenv's (what `pyenv prefix 3.13.0`,
    else `pyenv prefix 3.13`, names), `uv python find 3.13`, then python3.13 on PATH."""
    import re

    variable = "PYTHON" + series.replace(".", "")
    if override := os.environ.get(variable):
        if not os.access(override, os.X_OK):
            raise BuildError(f"{variable}={override}: not an executable file")
        return override
    roots = [os.environ.get("PYENV_ROOT", ""), os.path.expanduser("~/.pyenv")]
    pattern = re.compile(rf"{re.escape(series)}\.(\d+)")
    for root in filter(None, dict.fromkeys(roots)):
        try:
            names = os.listdir(os.path.join(root, "versions"))
        except OSError:
            continue
        # The pinned release, else the newest; final releases only (no 3.13.0rc1, no 3.13t).
        newest = sorted(
            ((int(m[1]), n) for n in names if (m := pattern.fullmatch(n))), reverse=True
        )
        pinned = [PINNED[series]] if PINNED.get(series) in names else []
        for name in pinned + [n for _, n in newest]:
            path = os.path.join(root, "versions", name, "bin", f"python{series}")
            if os.access(path, os.X_OK):
                return path
    import shutil
    import subprocess

    if uv := shutil.which("uv"):
        result = subprocess.run([uv, "python", "find", series], capture_output=True, text=True)
        if result.returncode == 0 and os.access(found := result.stdout.strip(), os.X_OK):
            return found
    shims = {os.path.join(r, "shims") for r in filter(None, roots)}
    path = os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if p.rstrip("/") not in shims
    )
    if found := shutil.which(f"python{series}", path=path):
        return found
    raise _missing(series)


def interpreters(series: list[str], known: dict) -> list[Interpreter]:
    """Each series' interpreter, probed once per binary (`known`: the probes by binary, kept in
    .cache/build/interpreters.json; entries added here)."""
    found = []
    for s in series:
        path = find_interpreter(s)
        real = os.path.realpath(path)
        st = os.stat(real)
        stamp = [st.st_ino, st.st_size, st.st_mtime_ns]
        probe = known.get(real)
        if not probe or probe["stamp"] != stamp:
            import subprocess

            result = subprocess.run([path, "-S", "-c", PROBE], capture_output=True, text=True)
            if result.returncode != 0:
                raise BuildError(f"{path} (for python{s}) does not run:\n{result.stderr}")
            probe = known[real] = {**json.loads(result.stdout), "stamp": stamp}
        if (probe["implementation"], probe["version"].rsplit(".", 1)[0]) != ("cpython", s) or (
            probe["release"] != "final"
        ):
            raise BuildError(
                f"{path}: is {probe['implementation']} {probe['version']} "
                f"({probe['release']}), not a CPython {s} release: the python{s} runtime's "
                f"bytecode must come from CPython {s}"
            )
        found.append(Interpreter(s, path, probe))
    return found


def pyc_name(arcname: str, cache_tag: str) -> str:
    folder, _, file = arcname.rpartition("/")
    return f"{folder}/__pycache__/{file[:-3]}.{cache_tag}.pyc".lstrip("/")


def compile_bytecode(
    jobs: list[list[tuple[str, bytes]]], pythons: list[Interpreter], shown: dict[str, str]
) -> dict[str, list[list[bytes]]]:
    """Every job's (dfile, source) pairs compiled by each interpreter, all interpreters at once:
    {cache tag: [[pyc per source] per job]}. `shown`: the file to name for a dfile in errors."""
    import contextlib
    import pickle
    import subprocess
    import tempfile

    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = "0"
    request, running, results = pickle.dumps(jobs, 4), [], {}
    with contextlib.ExitStack() as files:
        for python in pythons:  # in parallel; files, not pipes: no child waits on a full pipe
            stdin, stdout, stderr = (files.enter_context(tempfile.TemporaryFile()) for _ in "123")
            stdin.write(request)
            stdin.seek(0)
            command = [python.path, "-S", "-B", "-c", WORKER]
            child = subprocess.Popen(command, stdin=stdin, stdout=stdout, stderr=stderr, env=env)
            running.append((python, child, stdout, stderr))
        for python, child, stdout, stderr in running:
            child.wait()
            stdout.seek(0)
            stderr.seek(0)
            data, errors = stdout.read(), stderr.read().decode(errors="replace").strip()
            pycs, at = [], 0
            while at < len(data):
                size = int.from_bytes(data[at : at + 8], "little")
                pycs.append(pickle.loads(data[at + 8 : at + 8 + size]))
                at += 8 + size
            if child.returncode != 0 or len(pycs) != len(jobs):
                dfile, _, why = errors.partition("\t")
                raise BuildError(
                    f"{shown.get(dfile, dfile)}: does not compile with CPython {python.version} "
                    f"({python.path}): {why or errors or f'exit {child.returncode}'}"
                )
            results[python.cache_tag] = pycs
    return results


# The cache: .cache/build/ ----------------------------------------------------------------------


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staging.write_bytes(data)
    os.replace(staging, path)


def _cached_json(path: Path, use: bool) -> dict | None:
    if not use:
        return None
    try:
        value = json.loads(path.read_bytes())
        os.utime(path)  # the newest are kept
        return value
    except (OSError, ValueError):
        return None


def _prune(folder: Path, keep: int, group=lambda name: "") -> None:
    """Keep the `keep` most recently used entries of each group."""
    entries: dict[str, list[tuple[int, Path]]] = {}
    for entry in os.scandir(folder):
        if not entry.name.startswith("."):
            entries.setdefault(group(entry.name), []).append((entry.stat().st_mtime_ns, entry))
    for used in entries.values():
        for _, entry in sorted(used, key=lambda x: x[0], reverse=True)[keep:]:
            Path(entry.path).unlink(missing_ok=True)


def _environment_id() -> bytes:
    """The build interpreter and the installed packages (troposphere's version, ...)."""
    names = [sys.version]
    for folder in sys.path:
        if folder.endswith(("site-packages", "dist-packages")) and os.path.isdir(folder):
            names += sorted(n for n in os.listdir(folder) if n.endswith((".dist-info", ".pth")))
    return "\n".join(names).encode()


def _generate(stages: list[str]) -> dict:
    """Everything the template code generates, as text (cached by the hash of its inputs)."""
    from templates import build_template
    from templates.catalog import ARTIFACTS, LAYER
    from templates.deploy_roles import build_deploy_roles
    from templates.functions import PYTHON_RUNTIMES, code_key_parameter
    from tools.deploy import stage_params
    from tools.deploy.stack_policy import stack_policy

    template_json = (build_template().to_json(sort_keys=False) + "\n").encode()
    template = json.loads(template_json)
    if stage_params.STAGES != STAGES:
        raise BuildError(
            f"build.STAGES {STAGES} is not tools.deploy.stage_params' {stage_params.STAGES}"
        )
    try:
        values = {s: stage_params.validate(ROOT / "params" / f"{s}.json", template) for s in stages}
    except stage_params.ParamsError as e:
        raise BuildError(str(e)) from None
    return {
        "artifacts": list(ARTIFACTS),
        "layer": LAYER,
        "code_keys": {name: code_key_parameter(name) for name in ARTIFACTS},
        "series": [r.removeprefix("python") for r in PYTHON_RUNTIMES],
        "template": template_json.decode(),
        "deploy_roles": build_deploy_roles().to_json(sort_keys=False) + "\n",
        "stack_policy": dump_json(stack_policy(template)).decode(),
        "openapi": openapi_json().decode(),
        "values": values,
        "summary": {k: len(template[k]) for k in ("Resources", "Parameters", "Outputs")},
    }


def _params(generated: dict, keys: dict[str, str]) -> dict[str, str]:
    from tools.deploy import stage_params

    template = json.loads(generated["template"])
    return {
        stage: dump_json(
            stage_params.overrides(stage_params.with_defaults(template, {**values, **keys}))
        ).decode()
        for stage, values in generated["values"].items()
    }


def _artifacts(
    generated: dict, pythons: list[Interpreter], read: _Reader, store: Path, cache: bool
) -> tuple[dict[str, tuple[Artifact, Path | bytes]], list[str]]:
    """Every artifact: reused from the store when its inputs' hash is there, else compiled and
    zipped (all misses at once). Returns {name: (artifact, cached file or bytes)}, the misses."""
    layer, api_json = generated["layer"], generated["openapi"].encode()
    toolchain = [
        ("build.py", read(BUILD_FILE)),
        *(("python", p.identity.encode()) for p in pythons),
    ]
    zips = store / "artifacts"
    stored = {}
    if cache and zips.is_dir():
        for entry in os.listdir(zips):
            if entry.endswith(".zip") and not entry.startswith("."):
                stem, _, sha = entry[:-4].rpartition("-")
                stored[stem] = (sha, zips / entry)
    artifacts, misses = {}, []
    for name in generated["artifacts"]:
        raw = artifact_entries(name, layer, api_json)
        entries = [(arc, read(source)) for arc, source in raw]
        inputs = _digest([*toolchain, ("name", name.encode()), *entries])[:32]
        if f"{name}-{inputs}" in stored:
            sha, file = stored[f"{name}-{inputs}"]
            try:
                os.utime(file)  # the newest are kept
                artifacts[name] = (Artifact(name, sha, file.stat().st_size), file)
                continue
            except OSError:  # pruned by another build meanwhile
                pass
        misses.append((name, inputs, raw, entries))
    if not misses:
        return artifacts, []

    jobs, shown = [], {}
    for name, _, raw, entries in misses:
        mount = LAYER_MOUNT if name == layer else FUNCTION_MOUNT
        jobs.append([(mount + arc, data) for arc, data in entries if arc.endswith(".py")])
        shown.update(
            (mount + arc, os.path.relpath(s, ROOT)) for arc, s in raw if arc.endswith(".py")
        )
    pycs = compile_bytecode(jobs, pythons, shown)
    for i, (name, inputs, _, entries) in enumerate(misses):
        sources = [arc for arc, _ in entries if arc.endswith(".py")]
        compiled = [
            (pyc_name(arc, tag), pyc)
            for tag, per_job in pycs.items()
            for arc, pyc in zip(sources, per_job[i], strict=True)
        ]
        data = deterministic_zip(entries + compiled)
        artifact = Artifact(name, hashlib.sha256(data).hexdigest(), len(data))
        _atomic_write(zips / f"{name}-{inputs}-{artifact.sha256}.zip", data)
        artifacts[name] = (artifact, data)
    _prune(zips, KEEP["artifacts"], group=lambda n: n.split("-", 1)[0])
    return artifacts, [name for name, *_ in misses]


def _write_artifacts(out: Path, artifacts: dict[str, tuple[Artifact, Path | bytes]]) -> None:
    """Each zip into out/artifacts/ unless there already, and no other zip of its name."""
    directory = out / "artifacts"
    directory.mkdir(parents=True, exist_ok=True)
    present = {e.name: e.stat().st_size for e in os.scandir(directory)}
    for name, (artifact, data) in artifacts.items():
        for other in present:
            if other.rsplit("-", 1)[0] == name and other != artifact.filename:
                (directory / other).unlink(missing_ok=True)
        if present.get(artifact.filename) != artifact.size:
            target = directory / artifact.filename
            target.write_bytes(data.read_bytes() if isinstance(data, Path) else data)


def build(out: Path, stages: list[str], cache: bool = True) -> dict:
    """Build dist/; returns the manifest. `cache=False`: reuse nothing from .cache/build/ (it
    is still written)."""
    started = time.perf_counter()
    store = STORE
    read = _Reader()
    # What generates the template, policy, document and params: any change regenerates them.
    sources = [("stages", " ".join(stages).encode()), ("environment", _environment_id())]
    sources += [("build.py", read(BUILD_FILE)), ("pyproject.toml", read(ROOT / "pyproject.toml"))]
    # tools/: the stage files' checks, the stack policy and the intrinsics the template uses.
    for label in ("templates", "params", "tools"):
        sources += read.tree(label, ROOT / label)
    sources += read.tree("functions", FUNCTIONS_DIR)
    generated_file = store / "generated" / f"{_digest(sources)[:32]}.json"
    generated = _cached_json(generated_file, cache)
    if generated is None:
        generated = _generate(stages)
        _atomic_write(generated_file, json.dumps(generated).encode())
        _prune(generated_file.parent, KEEP["generated"])

    known_file = store / "interpreters.json"
    known = _cached_json(known_file, cache) or {}
    before = json.dumps(known, sort_keys=True)
    pythons = interpreters(generated["series"], known)
    if json.dumps(known, sort_keys=True) != before:
        _atomic_write(known_file, json.dumps(known, sort_keys=True).encode())

    artifacts, rebuilt = _artifacts(generated, pythons, read, store, cache)
    _write_artifacts(out, artifacts)
    ordered = [artifacts[name][0] for name in generated["artifacts"]]
    keys = {generated["code_keys"][a.name]: a.s3_key for a in ordered}
    params_key = _digest(
        [("generated", generated_file.name.encode()), ("keys", str(keys).encode())]
    )
    params_file = store / "params" / f"{params_key[:32]}.json"
    params = _cached_json(params_file, cache)
    if params is None:
        params = _params(generated, keys)
        _atomic_write(params_file, json.dumps(params).encode())
        _prune(params_file.parent, KEEP["params"])

    files = {
        "template": ("template.json", generated["template"].encode()),
        "deploy_roles": ("deploy-role.json", generated["deploy_roles"].encode()),
        "stack_policy": ("stack-policy.json", generated["stack_policy"].encode()),
        "openapi": ("openapi.json", generated["openapi"].encode()),
    }
    for file, data in files.values():
        write_if_changed(out / file, data)
    for stage, text in params.items():
        write_if_changed(out / "params" / f"{stage}.json", text.encode())
    manifest = {
        key: {"file": file, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        for key, (file, data) in files.items()
    }
    manifest["artifacts"] = {
        a.name: {
            "file": f"artifacts/{a.filename}",
            "sha256": a.sha256,
            "size": a.size,
            "s3_key": a.s3_key,
        }
        for a in ordered
    }
    write_if_changed(out / "manifest.json", dump_json(manifest))
    counts = generated["summary"]
    summary = {
        "resources": counts["Resources"],
        "parameters": counts["Parameters"],
        "outputs": counts["Outputs"],
        "bytecode": [p.version for p in pythons],
        "rebuilt": rebuilt,
        "seconds": time.perf_counter() - started,
    }
    return {"manifest": manifest, "summary": summary, "stages": stages}


def print_summary(result: dict, out: Path) -> None:
    s = result["summary"]
    print(
        f"{out}/template.json: {s['resources']} resources, {s['parameters']} parameters, "
        f"{s['outputs']} outputs; stages {', '.join(result['stages'])}; {s['seconds']:.2f} s"
    )
    rebuilt = ", ".join(s["rebuilt"]) or "none (unchanged inputs)"
    print(f"  bytecode: CPython {', '.join(s['bytecode'])} (unchecked-hash); rebuilt: {rebuilt}")
    for name, a in result["manifest"]["artifacts"].items():
        print(f"  {name:<12} {a['size'] / 1024:8.1f} KiB  {a['s3_key']}")


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (dist/)")
    parser.add_argument(
        "--stage",
        action="append",
        choices=STAGES,
        help="write the params of this stage only (repeatable; default: every stage)",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="reuse nothing from .cache/build/: compile, zip and generate everything",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    args = parser.parse_args(argv)
    try:
        result = build(args.out, args.stage or list(STAGES), cache=not args.no_cache)
    except BuildError as e:
        print(f"build: {e}", file=sys.stderr)
        return 2
    if not args.quiet:
        print_summary(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
