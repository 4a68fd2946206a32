"""Every `mass-ingest` help page as a person reads it, in child processes as tests/e2e.py `cli()` runs them.

The walk starts at `mass-ingest --help` and follows every command and sub-command the pages list. Each
page: every `--option` it names exists (on that command, or on the command it refers to, e.g.
`mass-ingest todo done ID [--value V]`); nothing in square brackets was taken for markup and lost; no
switch is shown taking a value; paragraphs are reflowed (no line ends early in the middle of one); each
command shows an `Example:` invocation, which parses. The messages in the source are held to the first
rule too: an option they name exists.
"""

from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e import cli

REPO = Path(__file__).resolve().parent.parent
WIDTH = 78  # click wraps help at the terminal's width (COLUMNS=80 here) less 2
TERMINAL = {"COLUMNS": "80"}
SECTION = re.compile(r"^(Arguments|Options|Commands):$")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
OTHER_PROGRAMS = ("prefect ", "pip ", "python ", "make ")  # their options are theirs


@dataclass
class Page:
    path: tuple[str, ...]
    text: str
    description: list[str] = field(default_factory=list)  # the lines between Usage and the first section
    options: set[str] = field(default_factory=set)
    commands: dict[str, str] = field(default_factory=dict)  # name -> the summary the page lists
    arguments: int = 0

    @property
    def name(self) -> str:
        return " ".join(("mass-ingest", *self.path))


def read_page(path: tuple[str, ...]) -> Page:
    result = cli(*path, "--help", env=TERMINAL, timeout=60)
    assert result.returncode == 0, f"mass-ingest {' '.join(path)} --help: {result.stderr[-2000:]}"
    page = Page(path, result.stdout)
    section = "description"
    for line in result.stdout.splitlines():
        if line.startswith("Usage:"):
            continue
        if SECTION.match(line):
            section = line[:-1]
            continue
        if section == "description":
            page.description.append(line)
        elif line.startswith("  ") and not line.startswith("   "):  # a new entry, not a wrapped line
            head, _, rest = line.strip().partition("  ")
            if section == "Options":
                page.options.update(re.findall(r"(?<![\w-])--?[a-z][a-z0-9-]*", head))
            elif section == "Commands":
                page.commands[head] = rest.strip()
            else:
                page.arguments += 1
    return page


@pytest.fixture(scope="module")
def pages() -> dict[tuple[str, ...], Page]:
    walked: dict[tuple[str, ...], Page] = {}
    queue: list[tuple[str, ...]] = [()]
    while queue:
        path = queue.pop(0)
        walked[path] = page = read_page(path)
        queue += [(*path, name) for name in page.commands]
    return walked


def flat(text: str) -> str:
    return " ".join(text.split())


def command_named(invocation: str, pages: dict[tuple[str, ...], Page]) -> tuple[str, ...] | None:
    """The longest command path ``mass-ingest a b ...`` names, or None when ``a`` is no command."""
    words = invocation.split()[1:]
    path: tuple[str, ...] | None = () if words == [] or words[0].isupper() else None  # `mass-ingest COMMAND --help`
    for i in range(1, len(words) + 1):
        if tuple(words[:i]) in pages:
            path = tuple(words[:i])
    return path


def unknown_options(text: str, own: set[str], pages: dict[tuple[str, ...], Page]) -> list[str]:
    """Each option ``text`` names that does not exist: in an invocation (`mass-ingest CMD ...` in back
    quotes, or an ``Example:`` line), on CMD; elsewhere, on the command the text belongs to (``own``) or
    on a command the text names."""
    examples = re.findall(r"^\s*Example: (mass-ingest .*)$", text, re.MULTILINE)
    text = flat(re.sub(r"^\s*Example: .*$", "", text, flags=re.MULTILINE))
    for program in OTHER_PROGRAMS:
        text = re.sub(rf"`{program}[^`]*`", "", text)
    invocations = examples + re.findall(r"`(mass-ingest[^`]*)`", text)
    text = re.sub(r"`mass-ingest[^`]*`", "", text)
    problems, named = [], set(own)
    for invocation in invocations:
        path = command_named(invocation, pages)
        if path is None:
            problems.append(f"`{invocation}` names no command")
            continue
        named |= pages[path].options
        problems += [f"`{invocation}`: {o} is not an option of {pages[path].name}"
                     for o in OPTION.findall(invocation) if o not in pages[path].options]
    for mention in re.findall(r"mass-ingest(?: [a-z][a-z-]*)+", text):
        path = command_named(mention, pages)
        named |= pages[path].options if path is not None else set()
    return problems + [f"{o} is not an option here nor of a command named" for o in OPTION.findall(text)
                       if o not in named]


def test_the_walk_reaches_every_command_and_sub_command(pages):
    assert {("run",), ("discover",), ("validate",), ("rescan",), ("import",), ("todo", "done"),
            ("subjects", "import"), ("db", "status"), ("db", "stop")} <= set(pages)
    assert {"--share", "--root", "--json"} <= pages[("run",)].options
    assert pages[("todo",)].options >= {"--subject", "--run", "--all"} and "done" in pages[("todo",)].commands


def test_every_option_a_help_page_names_exists(pages):
    problems = {page.name: unknown_options(page.text.split("\n", 1)[1], page.options, pages)  # not the Usage line
                for page in pages.values()}
    assert {name: p for name, p in problems.items() if p} == {}


def test_share_is_on_every_command_that_takes_root(pages):
    with_root = [page.name for page in pages.values() if "--root" in page.options]
    assert with_root == [f"mass-ingest {c}" for c in ("run", "discover", "validate", "rescan")]
    assert [name for name in with_root if "--share" not in pages[tuple(name.split()[1:])].options] == []


def test_no_switch_is_shown_taking_a_value_and_no_page_is_drawn_by_rich(pages):
    for page in pages.values():
        for shown in ("<bool>", "BOOLEAN", "[bool]", "╭", "│"):
            assert shown not in page.text, f"{page.name} --help shows {shown!r}:\n{page.text}"
        for switch in ("--json", "--approve", "--all", "--wait", "--yes", "--list", "--help"):
            for line in page.text.splitlines():
                if line.strip().startswith(switch + " "):
                    assert line.strip()[len(switch):].startswith("  "), f"{page.name}: {line!r} takes a value"


def test_nothing_in_square_brackets_is_lost_as_markup(pages):
    """What the source says in brackets shows as written (rich took "[default: your user name]" for a
    tag and printed "Your name ."), and no word is left before a lone full stop or comma."""
    import typer.main

    from mass_ingest.cli import app

    def walk(command, path=()):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, (*path, name))

    for path, command in walk(typer.main.get_command(app)):
        shown = flat(pages[path].text)
        written = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
        for bracketed in re.findall(r"\[[^\]\[]+\]", flat(" ".join(written))):
            assert bracketed in shown, f"{pages[path].name} --help lost {bracketed!r}"
        assert not re.search(r"\w \.|\w ,", shown.replace("...", "")), f"{pages[path].name}: {shown}"


def test_paragraphs_are_reflowed_and_summaries_whole(pages):
    for page in pages.values():
        paragraphs = "\n".join(page.description).split("\n\n")
        for paragraph in paragraphs:
            lines = [line for line in paragraph.splitlines() if line.strip()]
            if lines and lines[0].strip().startswith("Example:"):
                continue  # kept as written (click's \b), so it can be copied
            for line, after in zip(lines, lines[1:]):
                assert len(line) + 1 + len(after.split()[0]) > WIDTH, \
                    f"{page.name} --help breaks a paragraph early:\n{line}\n{after}"
        for name, summary in page.commands.items():
            assert not summary.endswith("..."), f"{page.name} lists {name} as {summary!r}: its first sentence is cut"


def test_every_command_has_an_example_that_parses(pages):
    """A page that runs something (not a bare group like `db`) shows `Example: mass-ingest ...` of itself."""
    runnable = [page for page in pages.values()
                if page.path and (not page.commands or page.options - {"--help"} or page.arguments)]
    assert len(runnable) >= 18
    for page in runnable:
        examples = [line.strip()[len("Example: "):] for line in page.description
                    if line.strip().startswith("Example: ")]
        assert examples, f"{page.name} --help has no 'Example: {page.name} ...' line"
        for example in examples:
            words = shlex.split(example)
            assert len(example) + 2 + len("Example: ") <= WIDTH + 2, f"{example!r} is wider than the terminal"
            assert words[:1 + len(page.path)] == page.name.split(), f"{page.name}: the example runs {example!r}"
            parsed = cli(*words[1:], "--help", env=TERMINAL, timeout=60)  # parses every option, runs nothing
            assert parsed.returncode == 0, f"{example}: {parsed.stderr[-1000:]}"
            assert parsed.stdout.startswith(f"Usage: {page.name} ")


def strings_in(source: Path) -> list[tuple[int, str]]:
    """Each string literal of a module, f-strings with their fields as {}."""
    found = []
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.JoinedStr):
            found.append((node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "{}"
                                               for v in node.values)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
    return found


def test_every_option_a_message_names_exists(pages):
    """Messages, help and docs in the code name `mass-ingest` options that exist (an option alone, like
    "--host" in a list of a server's arguments, is no message)."""
    every = set().union(*(page.options for page in pages.values()))
    problems, messages = [], 0
    for folder in ("mass_ingest", "flows", "tasks"):
        for source in sorted((REPO / folder).rglob("*.py")):
            for line, text in strings_in(source):
                if OPTION.search(text) and not re.fullmatch(r"-[\w-]+", text.strip()):
                    messages += 1
                    problems += [f"{source.relative_to(REPO)}:{line}: {p}" for p in
                                 unknown_options(text, every, pages)]
    assert messages > 40  # the walk over the source found them
    assert problems == []


def test_every_invocation_the_docs_show_exists(pages):
    """README.md and docs/: each `mass-ingest ...` in back quotes or on a line of a shell block."""
    problems, invocations = [], 0
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = doc.read_text(encoding="utf-8")
        shell_lines = [line.split(" #")[0].strip() for line in text.splitlines() if line.startswith("mass-ingest ")]
        for invocation in shell_lines + re.findall(r"`(mass-ingest[^`]*)`", flat(text)):
            invocations += 1
            problems += [f"{doc.name}: {p}" for p in unknown_options(f"`{invocation}`", set(), pages)]
    assert invocations > 20
    assert problems == []


def test_the_option_checks_see_a_wrong_option(pages):
    """The checks above can fail: a made-up option, on a page or in an invocation, is reported."""
    run = pages[("run",)]
    assert unknown_options("with --share and --wait", run.options, pages) == []
    assert unknown_options("with --shares", run.options, pages) == \
        ["--shares is not an option here nor of a command named"]
    assert unknown_options("`mass-ingest todo done ID --value V`, then `mass-ingest todo --value V`", set(), pages) == \
        ["`mass-ingest todo --value V`: --value is not an option of mass-ingest todo"]
    assert unknown_options("`prefect deploy --all` and `mass-ingest deploy --all`", set(), pages) == \
        ["`mass-ingest deploy --all`: --all is not an option of mass-ingest deploy"]


@pytest.mark.usefixtures("clean_database")
def test_release_lists_the_held_sessions_its_refusals_point_to():
    from mass_ingest.db.held import hold_sessions
    from tests.test_insert import new_run

    hold_sessions([{"candidate_id": "c" * 16, "session_id": "25843/2024-03-05_10-30-58", "share": "N",
                    "rel_path": "recordings/25843/2024-03-05_10-30-58", "location": "/mnt/N/recordings/25843"}],
                  new_run("run-1"), "left_out", "Ada", "histology first")
    unknown = cli("release", "26018/*", "--note", "x")
    assert unknown.returncode == 2 and "`mass-ingest release --list` lists them" in flat(unknown.stderr)
    nothing = cli("release")
    assert nothing.returncode == 2 and "`mass-ingest release --list` lists them" in flat(nothing.stderr)
    listed = cli("release", "--list")
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "held sessions (1)" in listed.stdout
    [row] = [line for line in listed.stdout.splitlines() if "25843/2024-03-05" in line]
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    assert cells[:3] == ["25843/2024-03-05_10-30-58", "N", "recordings/25843/2024-03-05_10-30-58"]
    assert cells[3].startswith("left out by Ada on ")
