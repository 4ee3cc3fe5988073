"""A CI job's make log as GitHub's run summary ($GITHUB_STEP_SUMMARY), so a finding is one click
away instead of a scroll through the whole log: the log cut at each command make echoed, each
command's output folded under it, and open where it matters (the command make stopped at, and
any that --open names, e.g. the plan's table).

    python3 -m tools.ci_summary --title "make test" make-test.log >> "$GITHUB_STEP_SUMMARY"

Standard library only: the summary step runs even when the project's venv was never made
(.github/workflows/)."""

import argparse
import html
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

# The lines make echoes before running them: the project's venvs' commands, the venvs being
# made, the browser test's npm.
COMMAND = re.compile(r"^(?:\.venv[\w-]*/bin/\S|python[\d.]* -m venv |rm -rf \.venv|cd \.browser )")
STOPPED = re.compile(r"^make(?:\[\d+\])?: \*\*\* ")  # make's own line when a command failed
MOST = 60_000  # characters of one command's output shown (GitHub takes 1 MiB per step)


@dataclass
class Section:
    """One command make ran ("" for what came before the first) and what it printed."""

    command: str
    output: list[str] = field(default_factory=list)
    failed: bool = False


def sections(log: str) -> list[Section]:
    """The log cut at each echoed command; the command make stopped at is `failed`."""
    found = [Section("")]
    for line in log.splitlines():
        if COMMAND.match(line):
            found.append(Section(line))
        elif STOPPED.match(line):
            found[-1].failed = True
            found[-1].output.append(line)
        else:
            found[-1].output.append(line)
    return [s for s in found if s.command or any(line.strip() for line in s.output)]


def _fenced(lines: list[str]) -> str:
    """The output as a code block whose fence no line of it can close."""
    text = "\n".join(lines)
    if len(text) > MOST:
        text = (
            f"... (the first {len(text) - MOST} characters are in the job's log)\n" + text[-MOST:]
        )
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def render(title: str, log: str, opened: tuple[str, ...] = ()) -> str:
    """The summary in GitHub's Markdown: a heading with the verdict, a fold per command."""
    found = sections(log)
    failed = any(s.failed for s in found)
    verdict = "failed" if failed else "passed" if found else "no output (see the job's log)"
    parts = [f"## {title}: {verdict}", ""]
    for s in found:
        mark = "❌" if s.failed else "✅"
        name = (
            f"<code>{html.escape(s.command, quote=False)}</code>"
            if s.command
            else "before the first command"
        )
        is_open = s.failed or any(o in s.command for o in opened if s.command)
        body = [line for line in s.output if line.strip()]
        if not body:
            parts += [f"{mark} {name}", ""]
            continue
        parts += [f"<details{' open' if is_open else ''}><summary>{mark} {name}</summary>", "",
                  _fenced(s.output), "", "</details>", ""]  # fmt: skip
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log", type=Path, help="the job's make output (tee'd)")
    parser.add_argument("--title", required=True, help="the summary's heading")
    parser.add_argument(
        "--open", action="append", default=[], help="show open the commands containing this"
    )
    args = parser.parse_args(argv)
    log = args.log.read_text(errors="replace") if args.log.is_file() else ""
    print(render(args.title, log, tuple(args.open)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
