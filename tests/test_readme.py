"""README stays true: every parameter it must document, every command it shows."""

import re

import pytest

from templates.parameters import FROM_BUILD, supplier
from tests.cfn import ROOT

README = (ROOT / "README.md").read_text()


def test_every_parameter_is_in_the_readme_table(template):
    documented = set(re.findall(r"^\| `(\w+)` \|", README, flags=re.MULTILINE))
    expected = {p for p in template["Parameters"] if supplier(p) != FROM_BUILD}
    assert expected <= documented


@pytest.mark.parametrize(
    "target", sorted(set(re.findall(r"(?:`|^)make ([a-z][a-z-]*)", README, re.M)))
)
def test_every_make_target_the_readme_shows_exists(target):
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(rf"^{re.escape(target)}:", makefile, flags=re.MULTILINE), target
