"""The ``console`` examples of docs/ are what the commands print today.

Each checked block is found in its page by its first ``$ command`` line; its
commands run for real, verbatim, in one bash shell (so ``echo $?`` works), with
the state the page assumes, and the transcript (``$ command`` lines, then what
the command printed on stdout and stderr) must equal the block line by line. A
line ``...`` in a block stands for the lines the page leaves out. Only what
legitimately varies is normalised (:data:`NORMALISE`).

Usage blocks (a synopsis, no output) are compared with the command's own
``--help`` usage: the same options and the same choices. Blocks that need
``make``, pip, a benchmark or a state the demo does not have are listed in
:data:`LEFT_OUT` with the reason, and a test checks that every block of docs/
is accounted for, so a new example cannot go unchecked by accident.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import shlex
import shutil
import subprocess
import sys
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from django.db import connections
from psycopg import sql

from tests.conftest import REPO_ROOT, demo_manage

DOCS = REPO_ROOT / "docs"
BIN = Path(sys.executable).parent  # the venv's: python, schemaops

# What legitimately differs between the page and a run, on both sides.
NORMALISE = [
    # Where Django is installed: the venv's site-packages (its folder, the Python version).
    (re.compile(r"^\S*/site-packages/", re.M), "<site-packages>/"),
    # The SARIF log names the schemaops release that wrote it.
    (re.compile(r'("name": "schemaops",\n\s*"version": )"[^"]*"'), r'\1"<version>"'),
    # How long a statement ran (schemaops trace): the run's, not the page's.
    (re.compile(r"(?<![\w(])\d+ ms\b"), "<N> ms"),
]
ELIDED = "..."  # a line of a block that stands for any lines (at least one)

# Blocks no test runs, by (page, first command), and why.
_ANOTHER_SERVER = "DATABASE_URL=postgres://me:secret@localhost:5432/schemaops_demo make demo"
_RECOVERY = "python manage.py schemaops validate          # what is wrong, one line each"
LEFT_OUT = {
    ("quickstart.md", "make demo"): "make: creates .venv, installs, then serves the demo",
    ("quickstart.md", "make test"): "make: installs, then runs the whole suite",
    ("quickstart.md", _ANOTHER_SERVER): "make, and another PostgreSQL server",
    ("installation.md", "pip install django-schemaops"): "pip",
    ("zero-downtime.md", "make install"): "make, then a benchmark (minutes, 1 GB)",
    ("run-semantics.md", _RECOVERY): (
        "no output shown; two alternative repairs of a failed demo:0005, which the demo lacks"
    ),
    ("commands/backup.md", "python manage.py schemaops backup --output backups"): (
        "the file's name carries the time, its size and the server's socket vary; "
        "tests/test_backup.py runs the restore commands it prints and finds the rows"
    ),
}

# Usage blocks, by (page, first command): compared with --help.
SYNOPSES = [
    ("commands/backup.md", "python manage.py schemaops backup"),
    ("commands/history.md", "python manage.py schemaops history"),
    ("commands/lint.md", "schemaops lint"),
    ("commands/lint.md", "python manage.py schemaops lint [APP_LABEL"),
    ("commands/migrate.md", "python manage.py schemaops migrate"),
    ("commands/migrate.md", "python manage.py schemaops plan [--sql]"),
    ("commands/new.md", "python manage.py schemaops new NAME"),
    ("commands/repair.md", "python manage.py schemaops repair"),
    ("commands/repair.md", "python manage.py schemaops baseline LOCATION:VERSION"),
    ("commands/repair.md", "python manage.py schemaops fake"),
    ("commands/rollback.md", "python manage.py schemaops rollback"),
    ("commands/snapshot.md", "python manage.py schemaops snapshot"),
    ("commands/status.md", "python manage.py schemaops status"),
    ("commands/validate.md", "python manage.py schemaops validate"),
    ("commands/trace.md", "python manage.py schemaops trace [--format"),
]

# Blocks the tests below run, by (page, first command).
LINT_FOLDER = ("commands/lint.md", "schemaops lint project/demo/sqlmigrations")
LINT_ORDERS = ("commands/lint.md", "cat sql/orders.sql")
LINT_JSON = ("commands/lint.md", "schemaops lint --format json sql/orders.sql")
LINT_GITHUB = ("commands/lint.md", "schemaops lint --format github sql/orders.sql")
LINT_SARIF = (
    "commands/lint.md",
    "schemaops lint --format sarif --select prefer-text-field sql/orders.sql",
)
LINT_MARKDOWN = ("commands/lint.md", "schemaops lint --format markdown sql/orders.sql")
LINT_DEMO = ("commands/lint.md", "python manage.py schemaops lint demo")
LINT_ALL = ("commands/lint.md", "python manage.py schemaops lint")
PLAN = ("commands/migrate.md", "python manage.py schemaops plan")
PLAN_SQL = ("commands/migrate.md", "python manage.py schemaops plan --sql")
PLAN_JSON = ("commands/migrate.md", "python manage.py schemaops plan --sql --format json")
TRACE = ("commands/trace.md", "python manage.py schemaops trace")
TRACE_MARKDOWN = (
    "commands/trace.md",
    "python manage.py schemaops trace --format markdown --verbosity 0",
)
NEW_PAIR = ("commands/new.md", 'python manage.py schemaops new "add bio" --location sql')
NEW_APP = (
    "scripts.md",
    'python manage.py schemaops new "add gin index to activity details" --app demo',
)
ADOPT_VALIDATE = ("coming-from.md", "python manage.py schemaops validate")
ADOPT_REGISTRY = ("coming-from.md", "python manage.py migrate schemaops")
ADOPT_FROM = ("coming-from.md", "python manage.py schemaops baseline sql --from golang-migrate")
ADOPT_BY_HAND = (
    "coming-from.md",
    "python manage.py schemaops baseline sql:000041"
    ' --reason "migrated by golang-migrate until 2026-11"',
)
INSTALL_REGISTRY = ("installation.md", "python manage.py migrate schemaops")
INSTALL_STATUS = ("installation.md", "python manage.py schemaops status")
SNAPSHOT_WRITE = ("drift.md", "python manage.py schemaops snapshot")
SNAPSHOT_CHECK = ("drift.md", "python manage.py schemaops snapshot --check")
SNAPSHOT_VALIDATE = ("drift.md", "python manage.py schemaops validate --snapshot")
DRIFT = ("drift.md", "python manage.py schemaops validate")
CHECKED = [
    LINT_FOLDER, LINT_ORDERS, LINT_JSON, LINT_GITHUB, LINT_SARIF, LINT_MARKDOWN, LINT_DEMO,
    LINT_ALL, PLAN, PLAN_SQL, PLAN_JSON, TRACE, TRACE_MARKDOWN,
    NEW_PAIR, NEW_APP, ADOPT_VALIDATE, ADOPT_REGISTRY, ADOPT_FROM, ADOPT_BY_HAND,
    INSTALL_REGISTRY, INSTALL_STATUS, SNAPSHOT_WRITE, SNAPSHOT_CHECK, SNAPSHOT_VALIDATE,
    DRIFT,
]  # fmt: skip


# The blocks ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Block:
    """A ```console block: its page (relative to docs/), fence line and lines."""

    page: str
    line: int
    lines: tuple[str, ...]

    @property
    def commands(self) -> list[str]:
        return [line[2:] for line in self.lines if line.startswith("$ ")]

    @property
    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"


def console_blocks() -> list[Block]:
    blocks = []
    for path in sorted(DOCS.rglob("*.md")):
        lines = path.read_text(encoding="utf-8").splitlines()
        start = None
        for number, line in enumerate(lines, start=1):
            if start is None and line.strip() == "```console":
                start = number
            elif start is not None and line.strip() == "```":
                page = path.relative_to(DOCS).as_posix()
                blocks.append(Block(page, start, tuple(lines[start : number - 1])))
                start = None
    return blocks


def is_usage(block: Block) -> bool:
    """A usage block: a synopsis with [optional] or {choice} parts, no output."""
    return bool(block.commands) and re.search(r"[\[{]", block.commands[0]) is not None


def key_of(block: Block) -> tuple[str, str]:
    """A block's key: (page, first command); for a usage block, the key in
    :data:`SYNOPSES` its first command starts with."""
    first = block.commands[0] if block.commands else ""
    if is_usage(block):
        for page, start in SYNOPSES:
            if page == block.page and first.startswith(start):
                return (page, start)
    return (block.page, first)


def find_block(key: tuple[str, str]) -> Block:
    found = [b for b in console_blocks() if key_of(b) == key]
    assert len(found) == 1, f"{len(found)} console blocks in docs/{key[0]} start with $ {key[1]}"
    return found[0]


# Running them --------------------------------------------------------------

_MARK = "@@schemaops-doc-example@@"


def shell_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"  # stdout and stderr in the order a terminal shows them
    env.update(extra)
    return env


@dataclasses.dataclass
class Run:
    transcript: list[str]  # "$ command" lines, each followed by what it printed
    statuses: list[int]  # each command's exit status


def run_block(block: Block, cwd: Path, **env: str) -> Run:
    """Run the block's commands, verbatim, in one bash shell in ``cwd``."""
    script = ["__status=0"]
    for command in block.commands:
        # (exit N) keeps the previous command's status for `echo $?`.
        script += [
            f"echo {_MARK} $__status",
            "(exit $__status); {",
            command,
            "} 2>&1; __status=$?",
        ]
    script.append(f"echo {_MARK} $__status")
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=cwd,
        env=shell_env(**env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    parts = re.split(rf"^{_MARK} (\d+)\n", done.stdout, flags=re.M)
    outputs, statuses = parts[2::2], [int(s) for s in parts[1::2]]
    assert parts[0] == "", done.stdout
    assert outputs[-1] == "", done.stdout
    transcript = []
    for command, output in zip(block.commands, outputs, strict=False):
        transcript += [f"$ {command}", *output.splitlines()]
    return Run(transcript, statuses[1:])


def normalise(lines: list[str] | tuple[str, ...]) -> list[str]:
    text = "\n".join(lines)
    for pattern, replacement in NORMALISE:
        text = pattern.sub(replacement, text)
    return text.split("\n")


def matches(expected: list[str], actual: list[str]) -> bool:
    i = j = 0
    while i < len(expected):
        if expected[i].strip() == ELIDED:
            if i + 1 == len(expected):
                return j < len(actual)
            try:  # the lines left out end where the page's next line appears
                j = actual.index(expected[i + 1], j + 1)
            except ValueError:
                return False
        elif j < len(actual) and actual[j] == expected[i]:
            j += 1
        else:
            return False
        i += 1
    return j == len(actual)


def check_block(key: tuple[str, str], cwd: Path, **env: str) -> Run:
    """Run the block and compare the transcript with the page."""
    block = find_block(key)
    run = run_block(block, cwd, **env)
    expected, actual = normalise(block.lines), normalise(run.transcript)
    if not matches(expected, actual):
        diff = "\n".join(difflib.unified_diff(expected, actual, "page", "commands", lineterm=""))
        pytest.fail(f"{block.where}: the commands print something else:\n{diff}")
    return run


def run_steps(key: tuple[str, str], cwd: Path, **env: str) -> Run:
    """Run a block that shows commands only: each must succeed."""
    block = find_block(key)
    assert len(block.lines) == len(block.commands), f"{block.where} shows output: compare it"
    run = run_block(block, cwd, **env)
    assert run.statuses == [0] * len(block.commands), "\n".join(run.transcript)
    return run


# States --------------------------------------------------------------------


def _server_params() -> dict[str, object]:
    """How to reach the server the suite uses (no database access through Django)."""
    params = dict(connections["default"].get_connection_params())
    for key in ("cursor_factory", "context", "prepare_threshold", "server_side_binding"):
        params.pop(key, None)
    return params


@pytest.fixture(scope="module")
def new_database() -> Iterator[Callable[[str], str]]:
    """Creates empty databases (``new_database("x")`` returns its URL); drops them after
    the module."""
    params = _server_params()
    created: list[str] = []

    def create(suffix: str) -> str:
        name = f"schemaops_docs_{suffix}"
        with psycopg.connect(**params, autocommit=True) as conn:  # type: ignore[arg-type]
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        created.append(name)
        user = urllib.parse.quote(str(params.get("user") or "postgres"), safe="")
        if params.get("password"):
            user += ":" + urllib.parse.quote(str(params["password"]), safe="")
        host = urllib.parse.quote(str(params.get("host") or ""), safe="")
        return f"postgres://{user}@{host}:{params.get('port') or 5432}/{name}"

    yield create
    with psycopg.connect(**params, autocommit=True) as conn:  # type: ignore[arg-type]
        for name in created:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def manage(*args: str, database_url: str) -> None:
    done = demo_manage(*args, database_url=database_url)
    assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout}{done.stderr}"


@pytest.fixture(scope="module")
def migrated_demo(new_database: Callable[[str], str]) -> str:
    """The demo project's database after ``manage.py migrate``: everything applied."""
    url = new_database("migrated")
    manage("migrate", database_url=url)
    return url


@pytest.fixture(scope="module")
def orders_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the page's sql/orders.sql (the output of its ``cat``)."""
    block = find_block(LINT_ORDERS)
    lines = block.lines[1 : block.lines.index(f"$ {block.commands[1]}")]
    root = tmp_path_factory.mktemp("orders")
    (root / "sql").mkdir()
    (root / "sql" / "orders.sql").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


SCRIPT_PROJECT_SETTINGS = """
from pathlib import Path

from project.settings import *  # noqa: F403

SCHEMAOPS = {"SCRIPT_DIRS": {"sql": Path(__file__).resolve().parent / "sql"}}
"""


def script_project(root: Path, scripts: dict[str, str]) -> dict[str, str]:
    """The demo project plus a ``sql`` location (``SCRIPT_DIRS``) in ``root``, run
    from there with ``python manage.py``; returns the environment it needs."""
    (root / "sql").mkdir()
    for name, text in scripts.items():
        (root / "sql" / name).write_text(text, encoding="utf-8")
    (root / "docsettings.py").write_text(SCRIPT_PROJECT_SETTINGS, encoding="utf-8")
    shutil.copy(REPO_ROOT / "manage.py", root / "manage.py")
    return {
        "DJANGO_SETTINGS_MODULE": "docsettings",
        "PYTHONPATH": f"{root}{os.pathsep}{REPO_ROOT}",
    }


SNAPSHOT_PROJECT_SETTINGS = """
from pathlib import Path

from project.settings import *  # noqa: F403

SCHEMAOPS = {"SNAPSHOT": Path(__file__).resolve().parent / "schema.sql"}
"""


def snapshot_project(root: Path) -> dict[str, str]:
    """The demo project with its schema file in ``root`` (``SNAPSHOT``), run from
    there with ``python manage.py``; returns the environment it needs."""
    (root / "docsettings.py").write_text(SNAPSHOT_PROJECT_SETTINGS, encoding="utf-8")
    shutil.copy(REPO_ROOT / "manage.py", root / "manage.py")
    return {
        "DJANGO_SETTINGS_MODULE": "docsettings",
        "PYTHONPATH": f"{root}{os.pathsep}{REPO_ROOT}",
    }


def golang_migrate_pair(version: int, slug: str) -> dict[str, str]:
    stem = f"{version:06d}_{slug}"
    return {
        f"{stem}.up.sql": f"CREATE TABLE t{version} (id bigint PRIMARY KEY);\n",
        f"{stem}.down.sql": f"DROP TABLE t{version};\n",
    }


# The console script's examples ---------------------------------------------


def test_lint_of_the_demo_folder() -> None:
    check_block(LINT_FOLDER, REPO_ROOT)


def test_lint_of_orders_sql_in_text(orders_folder: Path) -> None:
    run = check_block(LINT_ORDERS, orders_folder)
    assert run.statuses[1] == 1


@pytest.mark.parametrize(
    "key",
    [LINT_JSON, LINT_GITHUB, LINT_SARIF, LINT_MARKDOWN],
    ids=["json", "github", "sarif", "markdown"],
)
def test_lint_of_orders_sql_in_other_formats(key: tuple[str, str], orders_folder: Path) -> None:
    check_block(key, orders_folder)


# manage.py's examples --------------------------------------------------------


def test_lint_of_the_demo_app(migrated_demo: str) -> None:
    run = check_block(LINT_DEMO, REPO_ROOT, DATABASE_URL=migrated_demo)
    assert run.statuses == [1, 0]


def test_lint_of_every_app(migrated_demo: str) -> None:
    check_block(LINT_ALL, REPO_ROOT, DATABASE_URL=migrated_demo)


def test_plan(new_database: Callable[[str], str]) -> None:
    # The page's state: up to demo:0002 applied, but demo.0004_account_timezone not.
    # The registry first: `schemaops migrate` on an empty database would run demo:0001
    # (after demo.0003) before schemaops.0001 creates the registry, and fail.
    url = new_database("plan")
    manage("migrate", "schemaops", "--verbosity", "0", database_url=url)
    manage("schemaops", "migrate", "--target", "demo:0002", "--verbosity", "0", database_url=url)
    manage(
        "migrate", "demo", "0003_activitylog_smart_fields", "--verbosity", "0", database_url=url
    )
    for key in (PLAN, PLAN_SQL, PLAN_JSON):
        check_block(key, REPO_ROOT, DATABASE_URL=url)


@pytest.fixture(scope="module")
def plan_state(new_database: Callable[[str], str]) -> str:
    """The state of the plan's and the trace's pages (see test_plan)."""
    url = new_database("trace")
    manage("migrate", "schemaops", "--verbosity", "0", database_url=url)
    manage("schemaops", "migrate", "--target", "demo:0002", "--verbosity", "0", database_url=url)
    manage(
        "migrate", "demo", "0003_activitylog_smart_fields", "--verbosity", "0", database_url=url
    )
    return url


@pytest.mark.parametrize("key", [TRACE, TRACE_MARKDOWN], ids=["text", "markdown"])
def test_trace(key: tuple[str, str], plan_state: str) -> None:
    check_block(key, REPO_ROOT, DATABASE_URL=plan_state)


def test_new_in_a_folder_of_golang_migrate_pairs(tmp_path: Path) -> None:
    env = script_project(
        tmp_path,
        {**golang_migrate_pair(1, "create_users"), **golang_migrate_pair(2, "add_user_avatar")},
    )
    check_block(NEW_PAIR, tmp_path, **env)
    assert (tmp_path / "sql" / "000003_add_bio.up.sql").is_file()
    assert (tmp_path / "sql" / "000003_add_bio.down.sql").is_file()


def test_new_in_the_demo_app(tmp_path: Path) -> None:
    # In a copy of the demo project, run from its folder.
    shutil.copytree(
        REPO_ROOT / "project", tmp_path / "project", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO_ROOT / "manage.py", tmp_path / "manage.py")
    check_block(NEW_APP, tmp_path)
    created = find_block(NEW_APP).lines[1].removeprefix("Created ")
    assert (tmp_path / created).is_file()
    assert not (REPO_ROOT / created).exists()


def test_installation_steps(new_database: Callable[[str], str]) -> None:
    url = new_database("install")
    run_steps(INSTALL_REGISTRY, REPO_ROOT, DATABASE_URL=url)
    run = run_steps(INSTALL_STATUS, REPO_ROOT, DATABASE_URL=url)
    # "shows your Django migrations and the registry"
    assert "Django migrations (default)" in run.transcript
    assert "Registry (latest row of each change)" in run.transcript


# Drift and the schema file -----------------------------------------------------

# What drift.md says someone ran by hand, after the file was written.
DRIFT_BY_HAND = """
ALTER TABLE accounts ADD COLUMN nickname text;
DROP INDEX accounts_email_lower_unique;
"""


def test_the_schema_file_then_drift_from_it(
    tmp_path: Path, new_database: Callable[[str], str]
) -> None:
    url = new_database("snapshot")
    manage("migrate", "--verbosity", "0", database_url=url)
    env = {**snapshot_project(tmp_path), "DATABASE_URL": url}
    check_block(SNAPSHOT_WRITE, tmp_path, **env)
    assert (tmp_path / "schema.sql").is_file()
    assert f"```sql\n{DRIFT_BY_HAND.lstrip()}```" in (DOCS / "drift.md").read_text("utf-8")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(DRIFT_BY_HAND)
    assert check_block(SNAPSHOT_CHECK, tmp_path, **env).statuses == [1, 0]
    assert check_block(SNAPSHOT_VALIDATE, tmp_path, **env).statuses == [1]


def sql_block(page: str, section: str) -> list[str]:
    """The statements of the first ```sql block under the page's heading ``section``."""
    text = (DOCS / page).read_text(encoding="utf-8").split(f"\n{section}\n", 1)[1]
    block = text.split("```sql\n", 1)[1].split("```", 1)[0]
    return [s.strip() for s in block.split(";\n") if s.strip()]


def test_drift_from_the_models(new_database: Callable[[str], str]) -> None:
    # The page's state: the demo migrated, then the page's hand edits (the last, a
    # CREATE UNIQUE INDEX CONCURRENTLY on duplicate rows, fails and leaves it INVALID).
    url = new_database("drift")
    manage("migrate", "--verbosity", "0", database_url=url)
    *edits, failing = sql_block("drift.md", "## Drift from the models")
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in edits:
            conn.execute(statement.encode())
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(failing.encode())
    run = check_block(DRIFT, REPO_ROOT, DATABASE_URL=url)
    assert run.statuses == [1, 0]


# Coming from golang-migrate ----------------------------------------------------

ADOPTED_VERSIONS = 41


@pytest.fixture
def adopting(
    tmp_path: Path, new_database: Callable[[str], str]
) -> Callable[[str], dict[str, str]]:
    """A ``sql`` location of 41 golang-migrate pairs (the page's first and last names),
    and a database golang-migrate migrated to version 41: its ``schema_migrations``
    table, as the tool creates it."""
    scripts: dict[str, str] = {}
    for version in range(1, ADOPTED_VERSIONS + 1):
        slug = {1: "create_users", ADOPTED_VERSIONS: "add_user_avatar"}.get(
            version, f"change_{version}"
        )
        scripts.update(golang_migrate_pair(version, slug))
    env = script_project(tmp_path, scripts)

    def database(suffix: str) -> dict[str, str]:
        url = new_database(suffix)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE schema_migrations"
                " (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)"
            )
            conn.execute("INSERT INTO schema_migrations VALUES (%s, false)", [ADOPTED_VERSIONS])
        return {**env, "DATABASE_URL": url}

    return database


def test_adopting_a_golang_migrate_folder(
    tmp_path: Path, adopting: Callable[[str], dict[str, str]]
) -> None:
    env = adopting("adopt")
    run_steps(ADOPT_VALIDATE, tmp_path, **env)
    run_steps(ADOPT_REGISTRY, tmp_path, **env)
    check_block(ADOPT_FROM, tmp_path, **env)


def test_baselining_by_hand(tmp_path: Path, adopting: Callable[[str], dict[str, str]]) -> None:
    env = adopting("baseline")
    run_steps(ADOPT_REGISTRY, tmp_path, **env)
    run_steps(ADOPT_BY_HAND, tmp_path, **env)


# Usage blocks ----------------------------------------------------------------

_OPTION = re.compile(r"(?<![\w-])(--?[a-zA-Z][\w-]*)(?: (\{[^}]*\}))?")
_ALWAYS_THERE = {"-h", "--database", "-v"}  # every subcommand's (docs/commands/index.md)


def options(usage: str) -> dict[str, frozenset[str] | None]:
    """Each option of a usage text, with its choices."""
    return {
        name: frozenset(choices.strip("{}").split(",")) if choices else None
        for name, choices in _OPTION.findall(usage)
    }


def help_prefix(synopsis: str) -> str:
    """The command a synopsis is about: its words before the first argument."""
    words = []
    for word in shlex.split(synopsis):
        if not (re.fullmatch(r"[a-z][\w.-]*", word) or word == "-m"):
            break
        words.append(word)
    return " ".join(words)


@pytest.mark.parametrize("key", SYNOPSES, ids=[f"{page}:{first}" for page, first in SYNOPSES])
def test_usage_block_matches_the_help(key: tuple[str, str]) -> None:
    block = find_block(key)
    documented: dict[str, frozenset[str] | None] = {}
    helped: dict[str, frozenset[str] | None] = {}
    synopses: list[str] = []
    for line in block.lines:  # a usage goes on on indented lines
        if line.startswith("$ "):
            synopses.append(line[2:])
        else:
            assert line.startswith(" "), f"{block.where}: output in a usage block: {line!r}"
            synopses[-1] += " " + line.strip()
    for synopsis in synopses:
        prefix = help_prefix(synopsis)
        documented.update(options(synopsis.removeprefix(prefix)))
        done = subprocess.run(
            [*shlex.split(prefix), "--help"],
            cwd=REPO_ROOT,
            env=shell_env(COLUMNS="200"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        usage = done.stdout.split("\n\n", 1)[0]
        assert usage.startswith("usage: "), usage
        assert "[-h]" in usage, usage
        helped.update(options(usage.split("[-h]", 1)[1]))
    where = f"{block.where} ({', '.join(sorted({help_prefix(s) for s in synopses}))} --help)"
    assert sorted(set(documented) - set(helped)) == [], f"{where}: options the command lacks"
    assert sorted(set(helped) - set(documented) - _ALWAYS_THERE) == [], (
        f"{where}: options the page does not show"
    )
    for name in set(documented) & set(helped):
        if documented[name] is not None and helped[name] is not None:
            assert documented[name] == helped[name], f"{where}: the choices of {name}"


# The inventory ---------------------------------------------------------------


def test_every_console_block_is_checked_or_left_out_with_a_reason() -> None:
    known = [*CHECKED, *SYNOPSES, *LEFT_OUT]
    assert len(known) == len(set(known))
    found = [key_of(block) for block in console_blocks()]
    assert sorted(set(found) - set(known)) == [], "console blocks no test knows about"
    assert sorted(set(known) - set(found)) == [], "listed here, but in no page any more"
    assert len(found) == len(set(found)), "two blocks start with the same command"
