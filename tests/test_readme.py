"""README and docs/ stay true: the README stays short, every command they show exists, every
relative link resolves, and docs/parameters.md is exactly what the template and params give."""

import re
from pathlib import Path

import pytest

from tests.cfn import ROOT
from tools import parameter_docs
from tools.deploy import stage_params

README = ROOT / "README.md"
# Every page: docs/, and the moto gaps beside the patches (tools/local/moto-gaps.md).
DOCS = sorted([*(ROOT / "docs").glob("*.md"), *(ROOT / "tools").rglob("*.md")])
# The pages this repo writes by hand or generates (benchmarks.md is bench's; aws-rules.md is
# checked by tests/templates/test_aws_rules.py).
WRITTEN = [README, ROOT / "tools" / "local" / "moto-gaps.md"] + [
    ROOT / "docs" / f"{n}.md"
    for n in ("api", "cicd", "operations", "parameters", "security", "testing")
]
PARAMETERS = ROOT / "docs" / "parameters.md"
MAX_README_LINES = 250


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_readme_is_short():
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md: {len(lines)} lines; move text to docs/"


@pytest.mark.parametrize(
    ("page", "target"),
    sorted(
        (_name(page), target)
        for page in WRITTEN
        for target in set(re.findall(r"(?:`|^)make ([a-z][a-z-]*)", page.read_text(), re.M))
    ),
)
def test_every_make_target_the_docs_show_exists(page, target):
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(rf"^{re.escape(target)}:", makefile, flags=re.MULTILINE), (page, target)


def _relative_links(text: str) -> list[str]:
    """The targets of Markdown links and images that are not URLs or in-page anchors."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # code blocks hold no links
    text = re.sub(r"`[^`\n]*`", "", text)  # nor code spans (a pattern's `[a-z](...)`)
    targets = re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text)
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:|^#", t)]


@pytest.mark.parametrize("page", [README, *DOCS], ids=_name)
def test_every_relative_link_points_to_a_file(page):
    links = _relative_links(page.read_text())
    missing = [t for t in links if not (page.parent / t.split("#")[0]).exists()]
    assert missing == [], f"{_name(page)}: links to missing files"


def test_the_link_check_sees_links():
    assert "docs/api.md" in _relative_links(README.read_text())
    assert "operations.md#parameters-and-stage-files" in _relative_links(PARAMETERS.read_text())


@pytest.fixture(scope="module")
def stage_files(template) -> dict[str, dict[str, str]]:
    """What each stage file sets, as the build passes it on (CloudFormation strings)."""
    return {
        s: stage_params.validate(ROOT / "params" / f"{s}.json", template, s)
        for s in stage_params.STAGES
    }


def test_the_parameter_docs_are_current(template, stage_files):
    assert PARAMETERS.read_text() == parameter_docs.render(template, stage_files), "run make docs"


def _rows() -> list[str]:
    return [row.split("`")[1] for row in PARAMETERS.read_text().splitlines()
            if row.startswith("| `")]  # fmt: skip


def test_every_parameter_has_a_row(template):
    assert sorted(template["Parameters"]) == sorted(_rows())


def test_every_row_names_a_parameter(template):
    rows = _rows()
    assert len(rows) == len(set(rows))
    assert [r for r in rows if r not in template["Parameters"]] == []


def test_rows_mark_the_stage_files_values(template, stage_files):
    """`·` exactly where a stage file keeps the default; the others show its value."""
    for row in PARAMETERS.read_text().splitlines():
        if not row.startswith("| `"):
            continue
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        name = cells[0].strip("`")
        for stage, cell in zip(stage_params.STAGES, cells[1:4], strict=True):
            if name in stage_files[stage]:
                assert cell == stage_files[stage][name], (name, stage)
            elif cell != parameter_docs.KEEPS_DEFAULT:
                assert cell.startswith("set by") or cell == "", (name, stage, cell)
