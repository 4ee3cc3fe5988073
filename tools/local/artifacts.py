"""The built artifacts, unpacked as Lambda would see them: each function's zip in its own folder,
the layer's `python/` on the path. Running these instead of the source tree runs exactly what a
deploy uploads (the openapi function, for one, only has its document in its zip).

Reloader keeps them in step with functions/ (the files build.py zips) while `make local` runs
(hot reload), as SAM's mounted code is: an edit takes effect on the next request, without a
restart or a build."""

import importlib
import json
import os
import shutil
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import build
from templates.catalog import LAYER

from .routes import LambdaTarget

LAYER_PATH = "python"  # where a Lambda layer's Python packages live in its zip
# An artifact's source files as unpacked: archive name -> (source file, mtime_ns, size).
Listing = dict[str, tuple[str, int, int]]


def unpack(dist: Path, into: Path) -> tuple[Path, tuple[Path, ...]]:
    """Unpack every artifact of dist/manifest.json under `into`; return LocalApi's
    (functions_dir, layer_dirs)."""
    manifest = json.loads((dist / "manifest.json").read_text())
    for name, artifact in manifest["artifacts"].items():
        with zipfile.ZipFile(dist / artifact["file"]) as archive:
            archive.extractall(into / name)
    return into, (into / LAYER / LAYER_PATH,)


def listing(name: str) -> Listing:
    """The source files of artifact `name`, with their mtime and size. Not listed: the layer's
    pinned libraries (they change only with requirements.txt, through pip) and the files the
    build generates (openapi.json, from templates/): a change to those needs a restart
    (`make local` builds first)."""
    listed = {}
    for archive_name, source in build.source_entries(name, LAYER):
        stat = os.stat(source)
        listed[archive_name] = (source, stat.st_mtime_ns, stat.st_size)
    return listed


def _drop_bytecode(path: Path) -> None:
    """The build's .pyc files are unchecked-hash ones: Python would run them even after their
    source changed, so a replaced module's must go (its next import compiles the source)."""
    if path.suffix == ".py":
        for compiled in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
            compiled.unlink(missing_ok=True)


class Reloader:
    """Hot reload: LocalApi's `refresh`, asked before each invocation (under its lock, so no
    other function runs meanwhile). The function's and the layer package's source files are
    listed (path, mtime_ns, size: a few dozen stat calls); a file that differs from what was
    unpacked is copied over it in the work dir, one that is gone is removed, and a function that
    had imported older files is reloaded (LocalApi drops its handler and its layer modules).
    dist/ is never written. The listing at start is taken as what dist/ holds: `make local`
    builds dist/ from these sources right before."""

    def __init__(
        self, into: Path, names: Iterable[str], log: Callable[[str], None] = print
    ) -> None:
        self.into, self.log = into, log
        self._unpacked = {name: listing(name) for name in names}  # what the work dir holds
        self._loaded: dict[str, tuple[Listing, Listing]] = {}  # function id -> its import's files

    def _sync(self, name: str) -> Listing:
        """The work dir's copy of artifact `name` made the sources' again; their listing."""
        now, before = listing(name), self._unpacked[name]
        if now != before:
            base = self.into / name
            for archive_name in before.keys() - now.keys():
                (base / archive_name).unlink(missing_ok=True)
                _drop_bytecode(base / archive_name)
            for archive_name, listed in now.items():
                if before.get(archive_name) != listed:
                    target = base / archive_name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(listed[0], target)
                    _drop_bytecode(target)
            importlib.invalidate_caches()  # the import system's listings of these folders
            self._unpacked[name] = now
        return now

    def __call__(self, target: LambdaTarget) -> bool:
        """Before an invocation of `target`: its files and the layer's brought up to date; True
        when it must import them again (it had imported older ones)."""
        if target.folder not in self._unpacked:
            return False
        try:
            files = (self._sync(target.folder), self._sync(LAYER))
        except OSError as error:  # e.g. in the middle of an editor's save
            self.log(f"reload {target.folder}: {error}; running the code loaded before")
            return False
        loaded = self._loaded.setdefault(target.function_id, files)
        if loaded == files:
            return False
        self._loaded[target.function_id] = files
        self.log(f"reloaded {target.folder}")
        return True
