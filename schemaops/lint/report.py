"""Findings as text, JSON, GitHub workflow annotations, SARIF 2.1.0 or a Markdown
table for a pull-request comment.

Input that could not be linted (a missing path, a file that is not UTF-8...) is
reported by the caller on stderr; the machine formats also carry it as an
``invalid-file`` finding at its position, so a CI annotation shows it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from schemaops import __version__
from schemaops.display import for_display
from schemaops.lint import rules
from schemaops.lint.findings import Finding

DOCS_URL = "https://django-schemaops.readthedocs.io/en/latest/rules/"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INVALID_FILE_HINT = "Fix the file as the message says, or leave it out: it was not linted."
# Every input error names its file first, then the line where there is one:
# "path:line: message" or "path: message" (schemaops.exceptions.ScriptError).
# (A pattern string: re caches it when an error first needs it.)
_POSITION = r"(?P<path>[^\n:]+?)(?::(?P<line>[0-9]+))?(?::(?P<column>[0-9]+))?: (?P<message>.+)"


def invalid_file(error: str) -> Finding:
    """The ``invalid-file`` finding of one input error (``path[:line]: message``);
    an error that names no file has an empty path, at line 1."""
    error = for_display(error)
    name = rules.RuleName.INVALID_FILE.value
    match = re.fullmatch(_POSITION, error, re.DOTALL)
    # A sentence before a colon is not a path (a path with a space is one if it exists).
    if match is None or (" " in match["path"] and not Path(match["path"]).exists()):
        return Finding(name, rules.ERROR, "", 1, 1, error, INVALID_FILE_HINT)
    return Finding(
        name,
        rules.ERROR,
        match["path"],
        int(match["line"] or 1),
        int(match["column"] or 1),
        match["message"],
        INVALID_FILE_HINT,
    )


def exit_code(findings: Sequence[Finding]) -> int:
    """1 when a finding is an error, 0 otherwise."""
    return 1 if any(f.severity == rules.ERROR for f in findings) else 0


def summary(findings: Sequence[Finding], units: int) -> dict[str, Any]:
    """Counts: errors, warnings, findings by rule, and the units (files, migrations) read."""
    severities = Counter(f.severity for f in findings)
    return {
        "errors": severities[rules.ERROR],
        "warnings": severities[rules.WARNING],
        "units": units,
        "by_rule": dict(sorted(Counter(f.rule for f in findings).items())),
    }


def plural(count: int, word: str) -> str:
    """``1 file``, ``2 files``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def _summary_line(findings: Sequence[Finding], units: int, detail: str, not_linted: int) -> str:
    counts = summary(findings, units)
    read = plural(units, "file") + (f" ({detail})" if detail else "")
    also = f"; {not_linted} not linted" if not_linted else ""
    if not findings:
        return f"No findings in {read}{also}."
    errors, warnings = plural(counts["errors"], "error"), plural(counts["warnings"], "warning")
    return f"{errors}, {warnings} in {read}{also}."


def render(
    findings: Sequence[Finding],
    units: int,
    format: str,
    detail: str = "",
    errors: Sequence[str] = (),
) -> str:
    """``findings`` (sorted by the caller) in ``format`` (:data:`~schemaops.lint.options.FORMATS`).

    ``errors`` are the inputs that could not be linted (the caller prints them on
    stderr): the machine formats carry each as an ``invalid-file`` finding, after
    the others; the text summary counts them, and is left out when nothing at
    all was linted.
    """
    if format == "text":
        lines = [str(f) for f in findings]
        if units or findings or not errors:
            lines.append(_summary_line(findings, units, detail, len(errors)))
        return "\n".join(lines)
    if format == "markdown":
        return markdown(findings, units, detail, errors)
    import json  # the machine formats only

    findings = [*findings, *(invalid_file(error) for error in errors)]
    if format == "json":
        # One finding a line, each through the C encoder (indent= would select
        # the pure-Python one, several times slower on thousands of findings).
        items = [json.dumps(f.as_dict()) for f in findings]
        body = "[\n    " + ",\n    ".join(items) + "\n  ]" if items else "[]"
        totals = json.dumps(summary(findings, units))
        return '{\n  "findings": ' + body + ',\n  "summary": ' + totals + "\n}"
    if format == "github":
        return "\n".join(_annotation(f) for f in findings)
    return json.dumps(sarif(findings), indent=2)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(finding: Finding) -> str:
    """A GitHub Actions workflow command: ``::error file=...,line=...::message``."""
    level = "error" if finding.severity == rules.ERROR else "warning"
    where = (
        [f"file={_escape_property(finding.path)}", f"line={finding.line}", f"col={finding.column}"]
        if finding.path
        else []
    )
    properties = ",".join([*where, f"title={_escape_property(finding.rule)}"])
    return f"::{level} {properties}::{_escape_data(f'{finding.message} Hint: {finding.hint}')}"


INVALID_FILE_MESSAGE = "A file that could not be read as SQL was not linted."


def _rule_descriptor(name: str) -> dict[str, Any]:
    rule = rules.RULES.get(name)
    message = rule.message if rule else name.replace("-", " ")
    if name == rules.RuleName.INVALID_FILE:
        message = INVALID_FILE_MESSAGE
    descriptor: dict[str, Any] = {
        "id": name,
        "shortDescription": {"text": message},
        "helpUri": f"{DOCS_URL}{name}/",
        "defaultConfiguration": {
            "level": "error"
            if (rule.severity if rule else rules.ERROR) == rules.ERROR
            else "warning"
        },
    }
    if rule:
        descriptor["help"] = {"text": rule.hint}
    elif name == rules.RuleName.INVALID_FILE:
        descriptor["help"] = {"text": INVALID_FILE_HINT}
    return descriptor


def sarif(findings: Sequence[Finding]) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run: the rules that fired, and a result per finding."""
    names = sorted({f.rule for f in findings})
    index = {name: i for i, name in enumerate(names)}
    results = [
        {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": "error" if f.severity == rules.ERROR else "warning",
            "message": {"text": f"{f.message} Hint: {f.hint}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.path.replace("\\", "/")},
                        "region": {"startLine": f.line, "startColumn": f.column},
                    }
                }
            ]
            if f.path
            else [],
        }
        for f in findings
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "schemaops",
                        "version": __version__,
                        "informationUri": DOCS_URL,
                        "rules": [_rule_descriptor(name) for name in names],
                    }
                },
                "results": results,
            }
        ],
    }


def _cell(text: str) -> str:
    """``text`` safe in a Markdown table cell: pipes escaped, one line."""
    return " ".join(text.replace("\\", "\\\\").replace("|", "\\|").split())


def markdown(
    findings: Sequence[Finding], units: int, detail: str = "", errors: Sequence[str] = ()
) -> str:
    """A Markdown report fit for a pull-request comment: the summary line, then a
    table (where, rule linked to its page, message, hint) when there are findings
    (``errors``, the inputs that could not be linted, as ``invalid-file`` ones)."""
    lines = [f"**schemaops lint**: {_summary_line(findings, units, detail, len(errors))}"]
    findings = [*findings, *(invalid_file(error) for error in errors)]
    if findings:
        lines += ["", "| where | rule | message | hint |", "| --- | --- | --- | --- |"]
        for f in findings:
            icon = "error" if f.severity == rules.ERROR else "warning"
            # In a code span a backslash is literal; a pipe still ends the cell.
            where = f"{f.path}:{f.line}".replace("|", "\\|")
            lines.append(
                f"| `{where}` | {icon}: [{f.rule}]({DOCS_URL}{f.rule}/) "
                f"| {_cell(f.message)} | {_cell(f.hint)} |"
            )
    return "\n".join(lines)
