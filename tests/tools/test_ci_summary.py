"""The run summary CI writes (tools/ci_summary.py): make's log folded per command, the command
make stopped at open and marked, the plan's table open on request, nothing that breaks out of
its code block."""

from tools import ci_summary

LOG = """\
.venv/bin/cfn-lint -c I -a cfn_lint_serverless.rules -t dist/template.json dist/deploy-role.json
.venv/bin/ruff check .
All checks passed!
.venv/bin/python -m tools.scan --bin .venv-checkov/bin
Passed checks: 355, Failed checks: 1, Skipped checks: 5
```a fence inside```
make: *** [Makefile:81: scan] Error 1
"""


def test_the_log_is_cut_at_each_command_and_the_failed_one_is_known():
    found = ci_summary.sections(LOG)
    assert [s.command.split()[0] for s in found] == [".venv/bin/cfn-lint", ".venv/bin/ruff",
                                                      ".venv/bin/python"]  # fmt: skip
    assert [s.failed for s in found] == [False, False, True]
    assert found[1].output == ["All checks passed!"]


def test_the_summary_opens_the_failed_command_and_keeps_its_output_in_one_block():
    text = ci_summary.render("make test", LOG)
    assert text.startswith("## make test: failed\n")
    assert "✅ <code>.venv/bin/cfn-lint" in text  # no output: a line, no fold
    assert "<details><summary>✅ <code>.venv/bin/ruff check .</code>" in text
    assert "<details open><summary>❌ <code>.venv/bin/python -m tools.scan" in text
    assert "````text\n" in text  # a fence longer than the ``` in the output


def test_the_plan_is_shown_open_and_a_missing_log_says_so(tmp_path, capsys):
    plan = (
        ".venv/bin/python -m tools.deploy --stage 'test' plan\nplan for items-api-test (UPDATE):\n"
    )
    assert "<details open><summary>✅" in ci_summary.render("make plan", plan, ("tools.deploy",))
    assert ci_summary.main(["--title", "make plan", str(tmp_path / "absent.log")]) == 0
    assert "make plan: no output" in capsys.readouterr().out
