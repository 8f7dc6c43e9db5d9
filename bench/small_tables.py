"""How long the lock-heavy statements hold their lock, by table size.

The migrate gate turns a lock-heavy finding on a small table into a warning
(``SCHEMAOPS["SMALL_TABLE_SIZE"]``). This measures where "small" ends: for
tables of growing size, how long each statement the linter calls lock-heavy
holds its lock (its duration: the lock is held from start to commit). Writers
wait at most that long; under ~100 ms nobody notices.

    .venv/bin/python bench/small_tables.py [--sizes 1000,10000,100000,1000000]

Uses the embedded PostgreSQL (``SCHEMAOPS_PGDATA``) unless ``DATABASE_URL`` is set.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STATEMENTS = {
    "CREATE INDEX": "CREATE INDEX t_b ON t (b)",
    "ADD CHECK (scan)": "ALTER TABLE t ADD CONSTRAINT t_c CHECK (a > -1)",
    "SET NOT NULL (scan)": "ALTER TABLE t ALTER COLUMN b SET NOT NULL",
    "ADD UNIQUE": "ALTER TABLE t ADD CONSTRAINT t_u UNIQUE (a)",
    "ALTER TYPE (rewrite)": "ALTER TABLE t ALTER COLUMN a TYPE bigint",
}


def connect() -> psycopg.Connection[tuple[object, ...]]:
    if os.environ.get("DATABASE_URL"):
        return psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
    from project import embedded

    server = embedded.ensure_server()
    return psycopg.connect(
        host=server.socket_dir,
        port=server.port,
        user=server.user,
        dbname="postgres",
        autocommit=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    with connect() as connection:
        print(f"| rows | table size | {' | '.join(STATEMENTS)} |")
        print(f"| --- | --- |{' --- |' * len(STATEMENTS)}")
        for rows in sizes:
            timings = []
            size = ""
            for statement in STATEMENTS.values():
                connection.execute("DROP TABLE IF EXISTS t")
                connection.execute(
                    "CREATE TABLE t AS SELECT g AS a, md5(g::text) AS b, now() AS c"
                    " FROM generate_series(1, %s) g",
                    [rows],
                )
                connection.execute("VACUUM ANALYZE t")
                row = connection.execute(
                    "SELECT pg_size_pretty(pg_total_relation_size('t'))"
                ).fetchone()
                size = str(row[0]) if row else ""
                start = time.perf_counter()
                connection.execute(statement)  # type: ignore[arg-type]
                timings.append((time.perf_counter() - start) * 1000)
            connection.execute("DROP TABLE t")
            cells = " | ".join(f"{ms:,.1f} ms" for ms in timings)
            print(f"| {rows:,} | {size} | {cells} |")


if __name__ == "__main__":
    main()
