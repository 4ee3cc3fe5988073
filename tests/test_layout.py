"""The repository's shape (#18 item 1): the product card's top level, one tools/ package for
everything else that runs, and every importable folder packaged by pyproject.toml."""

import fnmatch
import re
import subprocess
import sys
import tomllib

from tests.cfn import ROOT

# The product card's top level, the docs, README and the one tooling package.
CARD = {"templates", "functions", "build.py", "params", "Makefile", "tests", "pyproject.toml"}
ALSO = {"README.md", "docs", "tools"}


def _tracked_top_level() -> set[str]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return {name.split("/")[0] for name in listed.stdout.decode().split("\0") if name}


def test_the_top_level_is_the_cards_plus_docs_and_tools():
    top = {name for name in _tracked_top_level() if not name.startswith(".")}
    assert top == CARD | ALSO, "anything else that runs belongs in tools/"


def test_the_only_top_level_script_is_build_py():
    assert sorted(p.name for p in ROOT.glob("*.py")) == ["build.py"]


def test_pyproject_packages_every_importable_folder():
    """Every folder with an __init__.py matches pyproject's package patterns (setuptools'
    find), except the layer's items_common, which build.py zips."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = config["packages"]["find"]["include"]
    importable = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in ROOT.rglob("__init__.py")
        if not any(p.startswith(".") or p in {"dist", "node_modules"} for p in init.parts)
    }
    outside = {"functions.shared.items_common"}
    assert {"templates", "tools", "tools.deploy", "tools.local", "tests"} <= importable
    assert sorted(
        name for name in importable - outside
        if not any(fnmatch.fnmatchcase(name, p) for p in patterns)
    ) == []  # fmt: skip


# A repository path in prose: it starts at a top-level folder, today's or one that moved into
# tools/ (ops, localapi, security, bench). Right after a quote it is a string in code instead.
FOLDERS = "templates|tools|tests|functions|docs|params|ops|localapi|security|bench"
CITED = re.compile(rf"(?<![\w./\"'-])((?:{FOLDERS})/[\w./-]*[\w-]\.(?:py|md|json))")


def test_every_path_a_comment_or_page_cites_exists():
    """Comments, docstrings and pages cite files by path; a move must not leave them stale."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    names = [n for n in listed.stdout.decode().split("\0") if n.endswith((".py", ".md"))]
    stale = sorted(
        f"{name}: {cited}"
        for name in names
        if name != "docs/benchmarks.md"  # bench's own record of a past run
        for cited in set(CITED.findall((ROOT / name).read_text()))
        if not (ROOT / cited).exists()
    )
    assert stale == []


def test_pytest_collects_every_test_file():
    """Every tests/**/test_*.py is collected by a plain `pytest` (make test's): pytest's default
    norecursedirs skipped tests/build/ without a word once the tests mirrored the source."""
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    files = {line.split("::")[0] for line in collected.splitlines() if "::" in line}
    written = {str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("test_*.py")}
    assert written - files == set()
