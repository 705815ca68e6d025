"""Every shell command shown in README.md and docs/ is checked here, cheaply and in this process.

A `run ...` command is composed with Hydra on the runner's search path (a sweep at its first point,
as `run -m` checks it) and validated against the JSON Schemas, as `run` does before any model loads;
`merge=` is parsed; `rerun=` is composed only (the task comes from the saved run). `-cd conf` commands
use a conf/ dir written from the page's own YAML blocks (those that name their file, `# conf/<file>`).
Other commands are checked for what they name: a script or module that exists. Nothing runs a model,
so commands that need real weights, a GPU or a cluster are checked as far as composing goes.

Commands live in fenced blocks marked bash/sh/shell/console; a `run` command anywhere else in a code
block is a failure, so no example escapes this test. Complete `run ...` commands written inline (in a
table, a sentence) are checked the same way; those with a `<placeholder>` or `...` are synopses.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SHELL = {"bash", "sh", "shell", "console"}
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.M | re.S)

# Programs whose commands are shown but not checked, and why.
UNCHECKED = {
    "cd": "moves into the reader's own project",
    "mlflow": "the full mlflow UI lives outside this environment (its pins clash with ours)",
    "uvx": "runs the full mlflow UI from another environment",
    "pip": "installs from a registry",
    "sbatch": "needs a SLURM cluster",
    "ray": "starts a Ray cluster",
}
# run commands checked for composition only, and why schema validation is skipped for them.
COMPOSE_ONLY = {
    "device=cuda": "the device check asks for CUDA, which this machine may lack",
    "quantization=8bit": "bitsandbytes 8-bit is checked against the device",
    "rerun=": "the task comes from the saved run.json, not from these overrides",
}


# Python tools installed with the project (extras test, docs): checked for being importable.
TOOLS = {"ruff": "ruff", "mkdocs": "mkdocs", "pytest": "pytest"}
# A command shown failing on purpose says so in its comment; it must then fail as a config error.
FAILS = re.compile(r"#.*\bconfig error\b")


@dataclass(frozen=True)
class Command:
    page: str
    line: int
    argv: tuple[str, ...]
    fails: bool = False

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {shlex.join(self.argv)}"


def blocks(path: Path):
    """(language, first line number, body) of each fenced block of a page."""
    text = path.read_text(encoding="utf-8")
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start("body")) + 1
        indent = len(match.group("indent"))
        body = "\n".join(row[indent:] for row in match.group("body").splitlines())
        yield match.group("lang").lower(), line, body


def commands(path: Path) -> list[Command]:
    found = []
    for lang, first, body in blocks(path):
        if lang not in SHELL:
            continue
        joined, start = "", None
        for offset, row in enumerate(body.splitlines()):
            if row.startswith("$ "):
                row = row[2:]
            start = first + offset if start is None else start
            if row.rstrip().endswith("\\"):
                joined += row.rstrip()[:-1] + " "
                continue
            joined += row
            fails = bool(FAILS.search(joined))
            for part in _split_and(shlex.split(joined, comments=True)):
                found.append(Command(str(path.relative_to(ROOT)), start, tuple(part), fails))
            joined, start = "", None
    return found


def _split_and(words: list[str]) -> list[list[str]]:
    parts, current = [], []
    for word in words:
        if word in ("&&", "||", ";"):
            parts.append(current)
            current = []
        else:
            current.append(word)
    return [part for part in [*parts, current] if part]


def inline_commands(path: Path) -> list[Command]:
    """`run key=value ...` written inline (tables, sentences), when complete: no <placeholder> or `...`."""
    found = []
    for number, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        for span in re.findall(r"`((?:\.venv/bin/)?run [^`]*=[^`]*)`", row):
            if not re.search(r"<|\.\.\.|…|=$", span):
                found.append(Command(str(path.relative_to(ROOT)), number, tuple(shlex.split(span))))
    return found


ALL = [command for page in PAGES for command in commands(page)]
INLINE = [command for page in PAGES for command in inline_commands(page)]


def _program(argv: tuple[str, ...]) -> tuple[str, list[str]]:
    words = list(argv)
    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):  # VAR=value before the command
        words.pop(0)
    program = words[0].removeprefix(".venv/bin/")
    return program, words[1:]


@pytest.fixture(scope="module")
def session():
    from runner.config.search import ConfigSession

    return ConfigSession()


@pytest.fixture(scope="module")
def user_conf(tmp_path_factory) -> Path:
    """conf/ of the docs' example project: every YAML block that names its file, `# conf/<file>`, in its
    first two lines (Hydra reads `# @package` from the first line only)."""
    conf = tmp_path_factory.mktemp("my-project") / "conf"
    for page in PAGES:
        for lang, _, body in blocks(page):
            named = [row for row in body.splitlines()[:2] if row.startswith("# conf/")]
            if lang == "yaml" and named:
                target = conf.parent / named[0][2:].strip()
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(body, encoding="utf-8")
    return conf


def test_the_pages_show_commands():
    """The README's newcomer commands stay where the guide says they are (line 10: the test command)."""
    assert len(ALL) >= 40, [str(c) for c in ALL]
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert lines[9] == "bash scripts/setup.sh && .venv/bin/python -m pytest -q -n auto --dist loadfile"
    assert lines[6].startswith("bash scripts/setup.sh && .venv/bin/run ")


def test_ci_runs_the_readmes_test_command():
    """CI must call the README's test command as written (after its set-up), not a variant of it."""
    test_command = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()[9].split(" && ", 1)[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert any(line.endswith(test_command) and "-m slow" not in line for line in ci), test_command


@pytest.mark.parametrize("command", ALL + INLINE, ids=str)
def test_command(command: Command, session, user_conf):
    program, args = _program(command.argv)
    if program in UNCHECKED:
        return
    if program == "run" and command.fails:
        from runner.core.errors import ConfigError

        with pytest.raises(ConfigError):
            _check_run(args, session, user_conf)
    elif program == "run":
        _check_run(args, session, user_conf)
    elif program in TOOLS:
        assert importlib.util.find_spec(TOOLS[program]) is not None, f"{command}: {program} is not installed"
    elif program == "bash":
        assert (ROOT / args[0]).is_file(), f"{command}: no script {args[0]}"
    elif program in ("python", "python3"):
        _check_python(args, command)
    else:
        pytest.fail(f"{command}: unknown program {program!r}: check it here or list it in UNCHECKED with a reason")


def _check_python(args: list[str], command: Command) -> None:
    if args[0] == "-m":
        module = args[1]
        assert (
            (ROOT / module.replace(".", "/")).with_suffix(".py").is_file()
            or (ROOT / module.replace(".", "/")).is_dir()
            or importlib.util.find_spec(module) is not None
        ), f"{command}: no module {module}"
    else:
        assert (ROOT / args[0]).is_file(), f"{command}: no file {args[0]}"


def _check_run(args: list[str], session, user_conf: Path) -> None:
    from runner.cli import merge_request
    from runner.config.compose import MULTIRUN, compose_run, first_point, job_overrides
    from runner.config.search import ConfigSearch, ConfigSession
    from runner.config.validate import check_config

    if set(args) & {"--version", "-V", "--help", "-h"}:
        return
    if merge_request(args) is not None:
        return
    argv = ["-cd", str(user_conf)] + args[2:] if args[:2] == ["-cd", "conf"] else args
    if argv is not args:
        session = ConfigSession(ConfigSearch.from_argv(argv))
    overrides = [a for a in job_overrides(argv) if not a.lstrip("+~").startswith(("hydra.", "hydra/"))]
    if any(arg in MULTIRUN for arg in argv):
        overrides = first_point(overrides)
        assert overrides is not None, f"the sweep in {argv} cannot be expanded to its first point"
    cfg = compose_run(overrides, session=session).cfg
    line = " ".join(args)
    if any(marker in line for marker in COMPOSE_ONLY):
        return
    check_config(cfg)


def test_no_command_outside_a_shell_block():
    """A `run` command in a text block (or an indented code block) would escape the checks above."""
    hidden = []
    for page in PAGES:
        for lang, line, body in blocks(page):
            if lang not in SHELL:
                hidden += [
                    f"{page.name}:{line}: {row}"
                    for row in body.splitlines()  # <...>: a synopsis
                    if re.match(r"^(\$ )?(\.venv/bin/)?run (?!-m:)[-+\w]", row) and "<" not in row
                ]
        text = page.read_text(encoding="utf-8")
        hidden += [
            f"{page.name}: indented: {m.group(0).strip()}"
            for m in re.finditer(r"(?m)(?<=\n\n)    (\.venv/bin/)?run [-+\w].*$", text)
        ]
    assert not hidden, "\n".join(hidden)


def test_python_blocks_parse():
    for page in PAGES:
        for lang, line, body in blocks(page):
            if lang in ("python", "py"):
                ast.parse(body, filename=f"{page.name}:{line}")


def test_links_to_repository_files_exist():
    """Relative links out of docs/ (benchmark printouts, scripts) and every relative link of the
    README point at files that exist; mkdocs --strict checks the links between docs pages."""
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            path = target.split("#", 1)[0]
            if not path or re.match(r"^[a-z]+:", path):
                continue
            if not (page.parent / path).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, "\n".join(broken)
