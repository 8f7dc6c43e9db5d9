"""Benchmark: the admin's status page and history list with 10,000 registry rows.

    python bench/admin_pages.py [--rows 10000] [--runs 20]

On a fresh database of the embedded PostgreSQL (or ``DATABASE_URL``): migrate,
write 10 pending scripts (one with a lint error), insert history rows (10, then
``--rows`` of Django migrations; then as many again of scripts whose files are
gone, the worst case, as each becomes a problem listed on the status page),
then time in process, through
Django's test client logged in as a superuser (templates rendered, middleware
run, no network): the status page, the history list's first page, and a
failed row's detail page; best and median of ``--runs``, with the query count
of each. The same three pages with 10 rows first, for the comparison.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

from apply import drop_database, fresh_database  # noqa: E402


def measure(client: object, url: str, runs: int) -> tuple[float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(url)  # type: ignore[attr-defined]
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)  # type: ignore[attr-defined]
    return min(times), statistics.median(times), len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    database = fresh_database("schemaops_bench_admin")
    scripts = Path(tempfile.mkdtemp(prefix="schemaops-bench-admin-"))
    for number in range(1, 11):
        body = "CREATE INDEX i ON t (c);" if number == 5 else f"SELECT {number};"
        (scripts / f"{number:04d}_step.sql").write_text(body + "\n")
    os.environ["SCHEMAOPS_BENCH_DB"] = database
    os.environ["SCHEMAOPS_BENCH_SCRIPTS"] = str(scripts)
    os.environ["DJANGO_SETTINGS_MODULE"] = "settings"
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from schemaops.models import HistoryEntry, Outcome, Tier

    settings.ALLOWED_HOSTS = ["testserver"]
    try:
        call_command("migrate", "--skip-scripts", verbosity=0)
        User.objects.create_superuser("admin", "a@example.com", "admin")
        client = Client()
        client.login(username="admin", password="admin")
        now = timezone.now()

        def add(count: int, start: int, tier: str) -> HistoryEntry:
            HistoryEntry.objects.bulk_create(
                HistoryEntry(
                    tier=tier,
                    location=f"app{i % 200}",
                    version=f"{i:06d}",
                    name="step",
                    outcome=Outcome.FAILED if i % 97 == 0 else Outcome.APPLIED,
                    started_at=now - timezone.timedelta(seconds=i),
                    duration_ms=i % 1000,
                    database="default",
                    sql="SELECT 1;\nSELECT 2;\n",
                    failed_line=2,
                    failed_statement="SELECT 2",
                    error="boom" if i % 97 == 0 else "",
                )
                for i in range(start, start + count)
            )
            return HistoryEntry.objects.filter(outcome=Outcome.FAILED).first()  # type: ignore[return-value]

        pages = {
            "status page": "/admin/schemaops/historyentry/status/",
            "history, first page (100 rows)": "/admin/schemaops/historyentry/",
        }
        scenarios = [
            (10, 0, Tier.DJANGO, "rows of Django migrations"),
            (args.rows - 10, 10, Tier.DJANGO, "rows of Django migrations"),
            (
                args.rows,
                args.rows,
                Tier.SQL,
                "more rows, of scripts whose files are gone "
                "(worst case: each is listed as a problem)",
            ),
        ]
        for rows, start, tier, what in scenarios:
            failed = add(rows, start, tier)
            total = HistoryEntry.objects.count()
            pages["failed row's detail"] = f"/admin/schemaops/historyentry/{failed.pk}/change/"
            print(f"{total} registry rows ({rows} {what}), 10 pending scripts, {args.runs} runs:")
            for label, url in pages.items():
                best, median, queries = measure(client, url, args.runs)
                print(
                    f"  {label:32} {best * 1000:7.1f} ms best, {median * 1000:7.1f} ms median,"
                    f" {queries} queries"
                )
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(database)


if __name__ == "__main__":
    main()
