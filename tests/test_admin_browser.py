"""The admin in a real headless Chromium (Debian's ``chromium``, driven by
Playwright's Python API): log in, open the history, filter by outcome, open a
failed row, open the status page; a screenshot of each in tests/artifacts/.

Skipped, with the reason, where Chromium or Playwright is missing; .ci/run
installs both and sets SCHEMAOPS_REQUIRE_BROWSER=1, which turns the skip into
a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from schemaops.models import FinishedStatement, HistoryEntry, Outcome, Tier
from tests.conftest import REPO_ROOT

ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install playwright)"
    if not Path(CHROMIUM).exists():
        return "Chromium is not installed (apt-get install chromium)"
    return None


MISSING = _missing()
if MISSING and os.environ.get("SCHEMAOPS_REQUIRE_BROWSER"):
    pytest.fail(f"SCHEMAOPS_REQUIRE_BROWSER is set, but {MISSING}", pytrace=False)
pytestmark = [
    pytest.mark.skipif(MISSING is not None, reason=MISSING or ""),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the
    # test makes between page actions are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        yield context.new_page()
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture(autouse=True)
def _close_live_server_sessions() -> Iterator[None]:
    """The live server's thread keeps its database session open past the test,
    and the test database cannot be dropped while it is: end it."""
    yield
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_log_in_browse_filter_open_a_failure_and_the_status(page: Any, live_server: Any) -> None:
    User.objects.create_superuser("admin", "admin@example.com", "admin")
    now = timezone.now()
    common = {"database": "default", "os_user": "deployer", "host": "ci-1"}
    HistoryEntry.objects.create(
        tier=Tier.DJANGO,
        location="demo",
        version="0004",
        name="0004_accounts",
        outcome=Outcome.APPLIED,
        started_at=now,
        duration_ms=85,
        **common,
    )
    failed = HistoryEntry.objects.create(
        tier=Tier.SQL,
        location="demo",
        version="0004",
        name="accounts_email_lower_unique",
        outcome=Outcome.FAILED,
        started_at=now,
        duration_ms=5,
        sql="-- one account per email\n\n"
        "CREATE UNIQUE INDEX CONCURRENTLY accounts_email_lower_unique\n"
        "    ON accounts (lower(email));\n",
        failed_line=3,
        failed_statement="CREATE UNIQUE INDEX CONCURRENTLY accounts_email_lower_unique\n"
        "    ON accounts (lower(email))",
        error='could not create unique index "accounts_email_lower_unique"',
        **common,
    )

    page.goto(f"{live_server.url}/admin/login/?next=/admin/schemaops/historyentry/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin")
    page.click("input[type=submit]")
    page.wait_for_selector("#result_list")
    assert page.locator(".schemaops-badge.schemaops-error").count() >= 1
    shot(page, "1-history")

    page.click("#changelist-filter a:text-is('failed')")
    page.wait_for_url("**outcome__exact=failed**")
    assert page.locator("#result_list tbody tr").count() == 1
    shot(page, "2-history-failed")

    page.click(f"#result_list a[href*='/{failed.pk}/change/']")
    page.wait_for_selector("table.schemaops-sql")
    highlighted = page.locator("tr.schemaops-failing")
    assert highlighted.count() == 2
    assert "CREATE UNIQUE INDEX CONCURRENTLY" in highlighted.first.inner_text()
    assert "could not create unique index" in page.content()
    shot(page, "3-failed-row")

    # The admin's dark theme: the badge and the highlight follow its variables.
    def colours() -> tuple[str, str]:
        return (
            page.evaluate("getComputedStyle(document.body).backgroundColor"),
            page.evaluate(
                "getComputedStyle(document.querySelector('tr.schemaops-failing td'))"
                ".backgroundColor"
            ),
        )

    light = colours()
    page.emulate_media(color_scheme="dark")
    page.evaluate("localStorage.setItem('theme', 'dark')")
    page.reload()
    page.wait_for_selector("table.schemaops-sql")
    dark = colours()
    assert dark[0] != light[0]
    assert dark[1] != light[1]
    shot(page, "3-failed-row-dark")
    page.evaluate("localStorage.setItem('theme', 'auto')")
    page.emulate_media(color_scheme="light")

    page.goto(f"{live_server.url}/admin/schemaops/")
    page.click("#schemaops-status-link a")
    page.wait_for_selector("#schemaops-pending, .schemaops-status")
    assert "Schema status" in page.title()
    shot(page, "4-status")

    # An interrupted non-atomic run: the statements it finished, and the one
    # that may have run.
    started = HistoryEntry.objects.create(
        tier=Tier.SQL,
        location="demo",
        version="0005",
        name="backfill",
        outcome=Outcome.STARTED,
        started_at=now,
        sql="-- schemaops: atomic=false\nALTER TABLE a ADD b int;\nUPDATE a SET b = 1;\n"
        "CREATE INDEX CONCURRENTLY a_b ON a (b);\n",
        **common,
    )
    for number, line in ((1, 2), (2, 3)):
        FinishedStatement.objects.create(
            entry=started, number=number, line=line, finished_at=now, duration_ms=7
        )
    page.goto(f"{live_server.url}/admin/schemaops/historyentry/{started.pk}/change/")
    page.wait_for_selector("ul.schemaops-finished")
    assert page.locator("ul.schemaops-finished li").all_inner_texts() == [
        "statement 1 (line 2), 7 ms",
        "statement 2 (line 3), 7 ms",
    ]
    assert "Statement 3 of 3 had started and may have run." in page.content()
    shot(page, "5-interrupted-row")
