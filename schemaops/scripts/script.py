"""A script of the SQL tier and its file format.

A script is ``NNNN_slug.sql`` with dbmate-style ``-- migrate:up`` /
``-- migrate:down`` sections (no markers means all "up"), or the golang-migrate
pair ``NNNN_slug.up.sql`` + ``NNNN_slug.down.sql``; ``-- schemaops:`` comments
set it up (:mod:`~schemaops.scripts.directives`). Its checksum is SHA-256 of its
bytes without a UTF-8 BOM and with CRLF turned into LF.

Parsing a script (sections, directives, statements) happens only when something
needs it, so ``status`` over thousands of applied scripts reads bytes and hashes,
nothing more.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from schemaops import statements
from schemaops.display import display
from schemaops.exceptions import ScriptError
from schemaops.locking import transactions
from schemaops.scripts import directives
from schemaops.scripts.directives import Directives, Suppression

if TYPE_CHECKING:
    # Only for annotations: the loader, which makes scripts, imports this module;
    # batches is imported by a script that has a section to run (a lint of plain
    # files reads none).
    from schemaops.locking.policy import LockPolicy
    from schemaops.scripts.batches import Batch
    from schemaops.scripts.loader import Location

_MARKER = re.compile(r"^--\s*migrate:(?P<section>up|down)\b(?P<options>.*)$")


class Section:
    """The statements of one direction of a script, with lines of the file they came
    from; ``non_transactional``: why it cannot be atomic (``"line 4: VACUUM"``);
    ``batches``: the batched statements, by index into ``statements``.

    (Plain classes, as other records that a console start defines and nothing
    compares: each named tuple class costs about a tenth of a millisecond.)
    """

    __slots__ = ("atomic", "batches", "non_transactional", "path", "statements", "text")

    def __init__(
        self,
        path: Path,
        text: str,
        statements: tuple[statements.Statement, ...],
        atomic: bool,
        non_transactional: str | None = None,
        batches: Mapping[int, Batch] = MappingProxyType({}),
    ) -> None:
        self.path = path
        self.text = text
        self.statements = statements
        self.atomic = atomic
        self.non_transactional = non_transactional
        self.batches = batches


class ParsedScript:
    """A script's contents, validated: sections, directives, suppressions."""

    __slots__ = ("directives", "down", "suppressions", "up")

    def __init__(
        self,
        up: Section,
        down: Section | None,
        directives: Directives,
        suppressions: tuple[Suppression, ...],
    ) -> None:
        self.up = up
        self.down = down
        self.directives = directives
        self.suppressions = suppressions

    @property
    def atomic(self) -> bool:
        """Whether the up section runs in one transaction."""
        return self.up.atomic


def normalise(data: bytes) -> bytes:
    """Return ``data`` without a UTF-8 BOM and with CRLF turned into LF (the checksummed form)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.replace(b"\r\n", b"\n")


class Script:
    """One versioned script of a location: a ``.sql`` file, or an up/down pair."""

    def __init__(
        self, location: Location, version: str, name: str, path: Path, down_path: Path | None
    ) -> None:
        self.location = location
        self.version = version
        self.number = int(version)
        self.name = name
        self.path = path
        self.down_path = down_path
        self._path_str = str(path)

    def __repr__(self) -> str:
        return f"<Script {self.id}>"

    @property
    def id(self) -> str:
        """``location:version``, as the command line refers to it."""
        return f"{self.location.name}:{self.version}"

    @property
    def key(self) -> tuple[str, int]:
        """Identity and sort order: location name, then version as a number."""
        return (self.location.name, self.number)

    @property
    def is_pair(self) -> bool:
        return self.down_path is not None

    @cached_property
    def _up_bytes(self) -> bytes:
        try:
            with open(self._path_str, "rb") as file:
                return normalise(file.read())
        except OSError as exc:
            raise _unreadable(self.path, exc) from None

    @cached_property
    def _down_bytes(self) -> bytes | None:
        if self.down_path is None:
            return None
        try:
            return normalise(self.down_path.read_bytes())
        except OSError as exc:
            raise _unreadable(self.down_path, exc) from None

    @cached_property
    def checksum(self) -> str:
        """SHA-256 of the normalised file (of up file, NUL byte, down file for a pair)."""
        import hashlib  # only where a checksum is asked for: a lint reads none

        digest = hashlib.sha256(self._up_bytes)
        if self._down_bytes is not None:
            digest.update(b"\0")
            digest.update(self._down_bytes)
        return digest.hexdigest()

    @cached_property
    def parsed(self) -> ParsedScript:
        """The script's sections and directives; raises :class:`ScriptError` if malformed."""
        return _parse(self)

    def policy(self) -> LockPolicy:
        """The lock budgets the script runs with: the settings, with its header's on top."""
        from schemaops.locking.policy import LockPolicy  # Django's settings: not for a lint

        return LockPolicy.from_settings(self.parsed.directives.policy_overrides(), self.id)


def _decode(path: Path, data: bytes) -> str:
    """Return the text of ``data`` (the normalised bytes of the file at ``path``).

    Raises:
        ScriptError: a NUL byte, which PostgreSQL refuses in SQL text, or not UTF-8.
    """
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise ScriptError(
            f"{path}:{line}: a NUL byte (0x00) at offset {_file_offset(path, nul)}: "
            "PostgreSQL refuses NUL in SQL text. Remove it; if the file is UTF-16 or "
            "binary, save it as UTF-8 text."
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ScriptError(
            f"{path}:{line}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}). Save the file as UTF-8."
        ) from None


def _file_offset(path: Path, normalised: int) -> int:
    """The offset in the file on disk of the first NUL byte (found at ``normalised``
    in its normalised bytes, which lack a BOM and CRs)."""
    try:
        return path.read_bytes().index(b"\0")
    except (OSError, ValueError):
        return normalised


def _refuse_psql_input(path: Path, scanned: statements.Scan) -> None:
    """Raise for what only psql can run: a script runs through a database connection.

    Raises:
        ScriptError: a meta-command or COPY ... FROM STDIN data, or an unterminated
            string, identifier, dollar quote or comment at the end.
    """
    if scanned.psql_input:
        found = scanned.psql_input[0]
        if found.kind == "copy data":
            raise ScriptError(
                f"{path}:{found.line}: COPY ... FROM STDIN data. schemaops runs a script "
                "through a database connection, which sends no data: insert the rows with "
                "INSERT, or COPY from a file on the database server."
            )
        raise ScriptError(
            f"{path}:{found.line}: '{found.text}' is a psql meta-command. schemaops runs a "
            "script through a database connection, not psql, so it cannot run: remove it "
            "(the runner stops at the first error by itself; put settings in -- schemaops: "
            "directives or a SQL SET). A file meant for psql is not a schemaops script: "
            "name it other than NNNN_slug.sql."
        )
    _refuse_unterminated(path, scanned)


def _refuse_unterminated(path: Path, scanned: statements.Scan) -> None:
    if scanned.unterminated is None:
        return
    what, line = scanned.unterminated
    if scanned.statements and scanned.statements[-1].unterminated:
        line = scanned.statements[-1].line
        raise ScriptError(
            f"{path}:{line}: unterminated {what} in the statement starting here. Close it."
        )
    raise ScriptError(f"{path}:{line}: unterminated {what} starting here. Close it.")


def _unreadable(path: Path, exc: OSError) -> ScriptError:
    return ScriptError(
        f"{display(path)}: cannot read it ({exc.strerror or exc}). Check its permissions."
    )


def _section(
    path: Path,
    text: str,
    atomic: bool | None,
    direction: str,
    scanned: statements.Scan | None = None,
) -> Section:
    """Split one section into statements (``scanned``: ``text`` is the whole file,
    already scanned) and decide whether it runs in a transaction."""
    if scanned is None:
        scanned = statements.scan(text, psql=True)
        _refuse_psql_input(path, scanned)
    shifted = scanned.statements
    # A golang-migrate script often wraps itself in BEGIN; ... COMMIT;. schemaops
    # runs an atomic script in one transaction of its own, so the wrapper goes.
    if (
        len(shifted) >= 2
        and transactions.opens_transaction(shifted[0].text)
        and transactions.commits_transaction(shifted[-1].text)
    ):
        shifted = shifted[1:-1]
    for statement in shifted:
        if transactions.is_transaction_control_statement(statement.text):
            raise ScriptError(
                f"{path}:{statement.line}: {statement.text.split()[0].upper()} inside the "
                f"{direction} section. schemaops runs an atomic script in one transaction "
                "itself: remove the transaction control, or split the script in two."
            )
    from schemaops.scripts import batches

    batched = batches.find_batches(path, text, shifted)
    non_transactional = None
    if batched:
        first = min(batched)
        non_transactional = f"line {shifted[first].line}: a batched statement"
    for statement in shifted:
        if non_transactional:
            break
        label = transactions.must_run_outside_transaction(statement.text)
        if label is not None:
            non_transactional = f"line {statement.line}: {label}"
    if atomic and non_transactional:
        raise ScriptError(
            f"{path}: atomic=true, but {non_transactional} cannot run in a transaction. "
            "Remove atomic=true (schemaops then runs it statement by statement) or move "
            "that statement to a script of its own."
        )
    return Section(
        path=path,
        text=text,
        statements=shifted,
        atomic=not non_transactional if atomic is None else atomic,
        non_transactional=non_transactional,
        batches=batched,
    )


def _parse(script: Script) -> ParsedScript:
    """Read ``script``'s layout, directives and sections (:attr:`Script.parsed`)."""
    path = script.path
    text = _decode(path, script._up_bytes)
    lines = text.split("\n")
    scanned = statements.scan(text, psql=True)
    # Before the sections: a meta-command in the header is in none of them.
    _refuse_psql_input(path, scanned)
    found = scanned.statements
    markers = (
        [(n, m) for n, line in enumerate(lines, start=1) if (m := _MARKER.match(line))]
        if "migrate:" in text
        else []
    )
    if not found:
        raise ScriptError(
            f"{path}: the script has no SQL statement. Write one, or delete the file."
        )
    if markers and script.down_path is not None:
        raise ScriptError(
            f"{path}:{markers[0][0]}: a .up.sql/.down.sql pair cannot also have -- migrate: "
            "markers. Use one layout: markers in one file, or a pair without markers."
        )

    first_statement_line = found[0].line
    if markers:
        first_statement_line = min(first_statement_line, markers[0][0])
        if found[0].line < markers[0][0]:
            raise ScriptError(
                f"{path}:{found[0].line}: SQL before the first -- migrate: marker. Move it "
                "under -- migrate:up."
            )
    header, suppressions = (
        directives.scan(path, lines, first_statement_line) if "schemaops:" in text else ([], [])
    )
    script_directives = directives.read_header(path, header)

    # Each section keeps the file's line numbers: it is the file's text with
    # every line outside the section blanked.
    section_texts: dict[str, str] = {}
    if not markers:
        section_texts["up"] = text
    for index, (number, match) in enumerate(markers):
        section = match.group("section")
        if section in section_texts:
            raise ScriptError(f"{path}:{number}: a second -- migrate:{section} marker.")
        end = markers[index + 1][0] - 1 if index + 1 < len(markers) else len(lines)
        section_texts[section] = "\n" * number + "\n".join(lines[number:end])
        # dbmate's own spelling of atomic=false.
        options = match.group("options").split()
        if section == "up" and "transaction:false" in options and script_directives.atomic is None:
            script_directives = script_directives._replace(atomic=False)
    if "up" not in section_texts:
        raise ScriptError(
            f"{path}: only a -- migrate:down section. Add -- migrate:up with the change "
            "itself above it."
        )

    up, down = _sections(
        script, section_texts, script_directives.atomic, None if markers else scanned
    )
    return ParsedScript(
        up=up, down=down, directives=script_directives, suppressions=tuple(suppressions)
    )


def _sections(
    script: Script, texts: dict[str, str], atomic: bool | None, whole: statements.Scan | None
) -> tuple[Section, Section | None]:
    """Parse the up section of ``texts`` (``whole``: the file's scan, when the up
    section is the whole file) and the down one (a pair's down file, or
    ``texts["down"]``); a down section without statements is none."""
    path = script.path
    up = _section(path, texts["up"], atomic, "up", whole)
    if not up.statements:
        raise ScriptError(f"{path}: the -- migrate:up section has no SQL statement. Write one.")
    down: Section | None = None
    if script.down_path is not None:
        down_bytes = script._down_bytes
        assert down_bytes is not None
        down = _section(script.down_path, _decode(script.down_path, down_bytes), None, "down")
    elif "down" in texts:
        down = _section(path, texts["down"], None, "down")
    if down is not None and not down.statements:
        down = None
    return up, down


def read_plain(path: Path) -> tuple[tuple[statements.Statement, ...], tuple[Suppression, ...]]:
    """Read a ``.sql`` file that is not a schemaops script, as psql would run it: its
    statements as written (``BEGIN``/``COMMIT`` included), and its suppressions.
    psql's meta-commands (``\\set``, ``\\i``, ...) and COPY ... FROM STDIN data are
    not statements; an included file (``\\i``) is not read.

    Raises:
        ScriptError: the file cannot be read, holds a NUL byte, is not UTF-8, leaves a
            string or comment open at its end, or a directive is malformed.
    """
    try:
        data = normalise(path.read_bytes())
    except OSError as exc:
        raise _unreadable(path, exc) from None
    text = _decode(path, data)
    scanned = statements.scan(text, psql=True)
    _refuse_unterminated(path, scanned)
    found = scanned.statements
    if "schemaops:" not in text:  # no directive (most files): no line to read
        return found, ()
    first_line = found[0].line if found else len(text.split("\n")) + 1
    _, suppressions = directives.scan(path, text.split("\n"), first_line)
    return found, tuple(suppressions)
