"""Drift from the models on a schema of 1,000 tables: what ``validate`` costs.

Generates 1,000 models in a registry of their own (each: a ``db_index``
``CharField``, a ``unique`` one, a ``PositiveIntegerField`` with its check, a
``DateTimeField`` in ``Meta.indexes``, a NULL-able text, a boolean, and a
``ForeignKey`` to the model before it), has Django's schema editor create their
tables on a fresh database, then times, best of ``--runs``:

- the models' side (``expected.tables``: Django's types, names and SQL);
- the comparison (``drift.compare``: the catalog and the types, then Python);
- beside them, what Django's per-table introspection would cost
  (``get_table_description`` and ``get_constraints`` for every table).

    .venv/bin/python bench/drift.py [--tables 1000] [--runs 5]

Uses the embedded PostgreSQL (``SCHEMAOPS_PGDATA``) unless ``DATABASE_URL`` is set.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DATABASE = "schemaops_bench_drift"


ADMIN_URL = os.environ.get("DATABASE_URL")


def connect() -> psycopg.Connection[tuple[object, ...]]:
    """The server's maintenance connection (``DATABASE_URL``'s server, or the embedded one)."""
    if ADMIN_URL:
        return psycopg.connect(ADMIN_URL, autocommit=True)
    from project import embedded

    server = embedded.ensure_server()
    return psycopg.connect(
        host=server.socket_dir,
        port=server.port,
        user=server.user,
        dbname="postgres",
        autocommit=True,
    )


def generated_models(count: int) -> list[type[Any]]:
    from django.apps.registry import Apps
    from django.db import models

    registry = Apps(())
    made: list[type[Any]] = []
    for number in range(count):
        table = f"bench_m{number:04d}"
        attrs: dict[str, Any] = {
            "__module__": __name__,
            "name": models.CharField(max_length=100, db_index=True),
            "code": models.CharField(max_length=20, unique=True),
            "quantity": models.PositiveIntegerField(default=0),
            "created_at": models.DateTimeField(),
            "note": models.TextField(null=True),
            "active": models.BooleanField(default=True),
            "Meta": type(
                "Meta",
                (),
                {
                    "apps": registry,
                    "app_label": "bench",
                    "db_table": table,
                    "indexes": [models.Index(fields=["created_at"], name=f"{table}_created")],
                },
            ),
        }
        if made:
            attrs["parent"] = models.ForeignKey(made[-1], null=True, on_delete=models.CASCADE)
        made.append(type(f"M{number:04d}", (models.Model,), attrs))
    return made


def best(runs: int, work: Callable[[], object]) -> tuple[float, int]:
    """The fastest of ``runs`` calls, in seconds, and the queries one call made."""
    from django.db import connection

    times = []
    queries = 0

    def count(execute: Callable[..., object], *args: object) -> object:
        nonlocal queries
        queries += 1
        return execute(*args)

    for _ in range(runs):
        queries = 0
        with connection.execute_wrapper(count):
            start = time.perf_counter()
            work()
            times.append(time.perf_counter() - start)
    return min(times), queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with connect() as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
        info = admin.info
        url = os.environ.get("DATABASE_URL") or (
            f"postgres://{info.user}@{info.host.replace('/', '%2F')}:{info.port}/{DATABASE}"
        )
    os.environ["DATABASE_URL"] = url.rsplit("/", 1)[0] + f"/{DATABASE}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["SCHEMAOPS_BENCH_DB"] = DATABASE
    os.environ["SCHEMAOPS_BENCH_SCRIPTS"] = tempfile.mkdtemp()
    import django

    django.setup()
    from django.db import connection

    from schemaops.schema import drift, expected

    made = generated_models(args.tables)
    start = time.perf_counter()
    for first in range(0, len(made), 100):  # a transaction per 100: max_locks_per_transaction
        with connection.schema_editor() as editor:
            for model in made[first : first + 100]:
                editor.create_model(model)
    created = time.perf_counter() - start
    tables = expected.tables("default", made)
    found = drift.compare("default", tables)
    assert found.findings == [], found.findings[:3]

    side, side_queries = best(args.runs, lambda: expected.tables("default", made))
    compare, compare_queries = best(args.runs, lambda: drift.compare("default", tables))

    def introspect() -> None:
        with connection.cursor() as cursor:
            for model in made:
                connection.introspection.get_table_description(cursor, model._meta.db_table)
                connection.introspection.get_constraints(cursor, model._meta.db_table)

    django_side, django_queries = best(min(args.runs, 2), introspect)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid"
                       " WHERE c.relname LIKE 'bench\\_m%%'")  # fmt: skip
        (indexes,) = cursor.fetchone()
    print(f"{args.tables} tables ({indexes} indexes) created in {created:.1f} s; no drift found")
    print("| step | seconds | queries |")
    print("| --- | --- | --- |")
    print(f"| the models' side (expected.tables) | {side:.3f} | {side_queries} |")
    print(
        f"| the catalog and the comparison (drift.compare) | {compare:.3f} | {compare_queries} |"
    )
    print(
        f"| both: what validate adds | {side + compare:.3f} | {side_queries + compare_queries} |"
    )
    print(f"| Django's introspection, per table | {django_side:.3f} | {django_queries} |")
    connection.close()
    with connect() as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE))
        )


if __name__ == "__main__":
    main()
