"""``--changed [REF]``: the files added or modified since a git ref, so a pull
request's lint reports only what it changes, with everything before it as
context.

Without a ref, the base is where the branch left the default branch (``git
merge-base HEAD <default>``, the default being ``origin/HEAD``'s branch, else
``main`` or ``master``). Uncommitted changes and untracked files count as
changed too: a pre-commit hook lints what is about to be committed.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path

from schemaops.exceptions import SchemaOpsError


class ChangedError(SchemaOpsError):
    """git could not say what changed (not a repository, an unknown ref)."""


def _git(*args: str, cwd: Path) -> str:
    try:
        completed = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise ChangedError(f"--changed needs git, which could not run: {exc}.") from None
    if completed.returncode != 0:
        said = completed.stderr.strip().splitlines()
        raise ChangedError(
            f"--changed: git {' '.join(args)} failed: {said[0] if said else 'no message'}. "
            "Run it inside a git repository, and give a ref that exists (--changed REF)."
        )
    return completed.stdout


def default_base(cwd: Path) -> str:
    """The commit where HEAD left the default branch."""
    try:
        default = _git("symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD", cwd=cwd)
    except ChangedError:
        default = ""
    candidates = [default.strip()] if default.strip() else []
    candidates += ["main", "master", "origin/main", "origin/master"]
    for candidate in candidates:
        try:
            _git("rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}", cwd=cwd)
        except ChangedError:
            continue
        return _git("merge-base", "HEAD", candidate, cwd=cwd).strip()
    raise ChangedError(
        "--changed: no default branch to compare with (no origin/HEAD, main or master). "
        "Name the base: --changed REF."
    )


class Changed:
    """The files added or modified since ``ref`` (the merge base when empty)."""

    def __init__(self, ref: str = "", cwd: Path | None = None) -> None:
        cwd = Path.cwd() if cwd is None else cwd
        root = Path(_git("rev-parse", "--show-toplevel", cwd=cwd).strip())
        base = ref or default_base(cwd)
        try:
            _git("rev-parse", "--verify", "--quiet", f"{base}^{{commit}}", cwd=cwd)
        except ChangedError:
            raise ChangedError(
                f"--changed: {base!r} is not a commit git knows here. Give a branch, tag or "
                "commit (fetch it first in a shallow CI clone)."
            ) from None
        names = _git(
            "diff", "--name-only", "--no-renames", "--diff-filter=AM", base, "--", cwd=root
        ).splitlines()
        names += _git("ls-files", "--others", "--exclude-standard", cwd=root).splitlines()
        self.base = base
        self.paths = frozenset((root / name).resolve() for name in names if name)

    @classmethod
    def of(cls, paths: Iterable[Path], base: str = "") -> Changed:
        """The files ``paths``, as changed since ``base`` (no git asked)."""
        changed = cls.__new__(cls)
        changed.base = base
        changed.paths = frozenset(path.resolve() for path in paths)
        return changed

    def covers(self, path: Path) -> bool:
        """Whether ``path`` was added or modified."""
        return path.resolve() in self.paths
