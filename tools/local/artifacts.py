"""The built artifacts, unpacked as Lambda would see them: each function's zip in its own folder,
the layer's `python/` on the path. Running these instead of the source tree runs exactly what a
deploy uploads (the openapi function, for one, only has its document in its zip)."""

import json
import zipfile
from pathlib import Path

from templates.catalog import LAYER

LAYER_PATH = "python"  # where a Lambda layer's Python packages live in its zip


def unpack(dist: Path, into: Path) -> tuple[Path, tuple[Path, ...]]:
    """Unpack every artifact of dist/manifest.json under `into`; return LocalApi's
    (functions_dir, layer_dirs)."""
    manifest = json.loads((dist / "manifest.json").read_text())
    for name, artifact in manifest["artifacts"].items():
        with zipfile.ZipFile(dist / artifact["file"]) as archive:
            archive.extractall(into / name)
    return into, (into / LAYER / LAYER_PATH,)
