"""Findings as text, JSON, GitHub workflow annotations, SARIF 2.1.0 or a Markdown
table for a pull-request comment."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from schemaops import __version__
from schemaops.lint import rules
from schemaops.lint.findings import Finding

FORMATS = ("text", "json", "github", "sarif", "markdown")
DOCS_URL = "https://django-schemaops.readthedocs.io/en/latest/rules/"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


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


def _summary_line(findings: Sequence[Finding], units: int, detail: str) -> str:
    counts = summary(findings, units)
    read = plural(units, "file") + (f" ({detail})" if detail else "")
    if not findings:
        return f"No findings in {read}."
    errors, warnings = plural(counts["errors"], "error"), plural(counts["warnings"], "warning")
    return f"{errors}, {warnings} in {read}."


def render(findings: Sequence[Finding], units: int, format: str, detail: str = "") -> str:
    """``findings`` (sorted by the caller) in ``format``, one of :data:`FORMATS`."""
    if format == "json":
        # One finding a line, each through the C encoder (indent= would select
        # the pure-Python one, several times slower on thousands of findings).
        items = [json.dumps(f.as_dict()) for f in findings]
        body = "[\n    " + ",\n    ".join(items) + "\n  ]" if items else "[]"
        totals = json.dumps(summary(findings, units))
        return '{\n  "findings": ' + body + ',\n  "summary": ' + totals + "\n}"
    if format == "github":
        return "\n".join(_annotation(f) for f in findings)
    if format == "sarif":
        return json.dumps(sarif(findings), indent=2)
    if format == "markdown":
        return markdown(findings, units, detail)
    return "\n".join([*(str(f) for f in findings), _summary_line(findings, units, detail)])


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(finding: Finding) -> str:
    """A GitHub Actions workflow command: ``::error file=...,line=...::message``."""
    level = "error" if finding.severity == rules.ERROR else "warning"
    properties = ",".join(
        [
            f"file={_escape_property(finding.path)}",
            f"line={finding.line}",
            f"col={finding.column}",
            f"title={_escape_property(finding.rule)}",
        ]
    )
    return f"::{level} {properties}::{_escape_data(f'{finding.message} Hint: {finding.hint}')}"


def _rule_descriptor(name: str) -> dict[str, Any]:
    rule = rules.RULES.get(name)
    message = rule.message if rule else name.replace("-", " ")
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
            ],
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


def markdown(findings: Sequence[Finding], units: int, detail: str = "") -> str:
    """A Markdown report fit for a pull-request comment: the summary line, then a
    table (where, rule linked to its page, message, hint) when there are findings."""
    lines = [f"**schemaops lint**: {_summary_line(findings, units, detail)}"]
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
