"""``schemaops snapshot`` and ``validate --snapshot``: the schema file, read from the
catalog of a real server (the ``runner`` test database, each test in a transaction
that is rolled back, so what it creates is gone after it)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from schemaops.exceptions import SnapshotError
from schemaops.schema import catalog, snapshot

pytestmark = pytest.mark.django_db(databases=["default", "runner"])

# One of each kind the file shows, in a schema of its own.
SHOP = """
CREATE SCHEMA shop;
COMMENT ON SCHEMA shop IS 'The shop''s tables';
CREATE SEQUENCE shop.invoice_numbers START 1000 INCREMENT 5;
CREATE TABLE shop.orders (
    id bigint GENERATED ALWAYS AS IDENTITY (START WITH 100) PRIMARY KEY,
    qty integer NOT NULL DEFAULT 1 CHECK (qty > 0),
    price numeric(10, 2),
    total numeric GENERATED ALWAYS AS (qty * price) STORED,
    placed_at timestamptz
);
COMMENT ON TABLE shop.orders IS 'One row per order';
COMMENT ON COLUMN shop.orders.qty IS 'How many';
CREATE INDEX orders_placed_at ON shop.orders (placed_at);
CREATE FUNCTION shop.touch() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN NEW.placed_at := now(); RETURN NEW; END $$;
CREATE TRIGGER orders_touch BEFORE UPDATE ON shop.orders
    FOR EACH ROW EXECUTE FUNCTION shop.touch();
CREATE VIEW shop.big_orders AS SELECT id, qty FROM shop.orders WHERE qty > 10;
CREATE MATERIALIZED VIEW shop.order_totals AS SELECT count(*) AS n FROM shop.orders;
"""


def execute(statements: str) -> None:
    with connections["runner"].cursor() as cursor:
        cursor.execute(statements)


def run(*args: str) -> str:
    """``manage.py schemaops ARGS --database runner``; return stdout and stderr."""
    out = StringIO()
    call_command("schemaops", *args, "--database", "runner", stdout=out, stderr=out, no_color=True)
    return out.getvalue()


def refused(*args: str) -> tuple[str, str]:
    """Run a command that must fail; return what it printed and its error."""
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command(
            "schemaops", *args, "--database", "runner", stdout=out, stderr=out, no_color=True
        )
    return out.getvalue(), str(caught.value)


@pytest.fixture
def shop() -> None:
    execute(SHOP)


@pytest.fixture
def schema_file(tmp_path: Path, shop: None) -> Path:
    """The schema file of the runner database with the shop schema, written."""
    path = tmp_path / "schema.sql"
    run("snapshot", "--output", str(path))
    return path


def test_two_runs_write_the_same_bytes(shop: None, tmp_path: Path) -> None:
    first, second = tmp_path / "first.sql", tmp_path / "second.sql"
    run("snapshot", "--output", str(first))
    run("snapshot", "--output", str(second))
    assert first.read_bytes() == second.read_bytes()
    assert "-- table shop.orders\n" in first.read_text(encoding="utf-8")


def test_the_same_schema_made_again_in_another_order_gives_the_same_bytes(
    shop: None,
) -> None:
    before = snapshot.take("runner")
    # New OIDs, and the objects created in the reverse order of the first time.
    execute("DROP SCHEMA shop CASCADE")
    execute(
        """
        CREATE SCHEMA shop;
        COMMENT ON SCHEMA shop IS 'The shop''s tables';
        CREATE FUNCTION shop.touch() RETURNS trigger LANGUAGE plpgsql
            AS $$ BEGIN NEW.placed_at := now(); RETURN NEW; END $$;
        CREATE TABLE shop.orders (
            id bigint GENERATED ALWAYS AS IDENTITY (START WITH 100),
            qty integer NOT NULL DEFAULT 1,
            price numeric(10, 2),
            total numeric GENERATED ALWAYS AS (qty * price) STORED,
            placed_at timestamptz
        );
        CREATE MATERIALIZED VIEW shop.order_totals AS SELECT count(*) AS n FROM shop.orders;
        CREATE VIEW shop.big_orders AS SELECT id, qty FROM shop.orders WHERE qty > 10;
        CREATE TRIGGER orders_touch BEFORE UPDATE ON shop.orders
            FOR EACH ROW EXECUTE FUNCTION shop.touch();
        CREATE INDEX orders_placed_at ON shop.orders (placed_at);
        ALTER TABLE shop.orders ADD CHECK (qty > 0);
        ALTER TABLE shop.orders ADD PRIMARY KEY (id);
        COMMENT ON COLUMN shop.orders.qty IS 'How many';
        COMMENT ON TABLE shop.orders IS 'One row per order';
        CREATE SEQUENCE shop.invoice_numbers START 1000 INCREMENT 5;
        SELECT nextval('shop.invoice_numbers');
        """
    )
    assert snapshot.take("runner") == before


def test_a_second_write_leaves_the_file_alone(schema_file: Path) -> None:
    assert "is up to date: " in run("snapshot", "--output", str(schema_file))


def test_check_exits_0_when_the_file_matches(schema_file: Path) -> None:
    assert "matches database 'runner': " in run(
        "snapshot", "--check", "--output", str(schema_file)
    )


def test_check_shows_an_added_column_and_exits_1(schema_file: Path) -> None:
    execute("ALTER TABLE shop.orders ADD COLUMN nickname text")
    printed, error = refused("snapshot", "--check", "--output", str(schema_file))
    assert "+    nickname text\n" in printed
    assert "-    placed_at timestamp with time zone\n" in printed
    assert f"--- {schema_file}\n+++ database 'runner'\n" in printed
    assert "run manage.py schemaops snapshot and commit" in error
    assert "nickname" not in schema_file.read_text(encoding="utf-8")


def test_check_shows_a_dropped_index_and_exits_1(schema_file: Path) -> None:
    execute("DROP INDEX shop.orders_placed_at")
    printed, _ = refused("snapshot", "--check", "--output", str(schema_file))
    assert "--- index shop.orders_placed_at\n" in printed
    assert "-CREATE INDEX orders_placed_at ON shop.orders USING btree (placed_at);\n" in printed


def test_check_without_the_file_says_to_write_and_commit_it(tmp_path: Path) -> None:
    missing = tmp_path / "schema.sql"
    _, error = refused("snapshot", "--check", "--output", str(missing))
    assert error == (
        f"{missing}: no schema file there. Write it with manage.py schemaops snapshot "
        "and commit it."
    )


def test_a_file_checked_out_with_crlf_still_matches(schema_file: Path) -> None:
    schema_file.write_bytes(schema_file.read_bytes().replace(b"\n", b"\r\n"))
    assert "matches database" in run("snapshot", "--check", "--output", str(schema_file))


def test_the_default_path_is_the_setting(shop: None, tmp_path: Path, settings: Any) -> None:
    settings.SCHEMAOPS = {**settings.SCHEMAOPS, "SNAPSHOT": tmp_path / "db" / "schema.sql"}
    (tmp_path / "db").mkdir()
    assert run("snapshot").startswith(f"Wrote {tmp_path}/db/schema.sql: ")
    assert "matches database" in run("snapshot", "--check")


def test_a_missing_folder_is_an_error_naming_the_file(tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "schema.sql"
    _, error = refused("snapshot", "--output", str(target))
    assert error.startswith(f"{target}: cannot write the schema file: ")


def test_output_dash_writes_to_stdout(shop: None) -> None:
    assert run("snapshot", "--output", "-") == snapshot.take("runner")


def test_validate_names_each_object_that_differs(schema_file: Path) -> None:
    execute(
        """
        ALTER TABLE shop.orders ALTER COLUMN placed_at SET DEFAULT now();
        DROP TRIGGER orders_touch ON shop.orders;
        CREATE INDEX orders_qty ON shop.orders (qty);
        """
    )
    printed, error = refused("validate", "--snapshot", str(schema_file))
    lines = printed.splitlines()
    table = next(i for i, line in enumerate(lines) if ": table shop.orders: differs" in line)
    assert lines[table + 1 : table + 3] == [
        "  -     placed_at timestamp with time zone",
        "  +     placed_at timestamp with time zone DEFAULT now()",
    ]
    assert any(
        line.startswith(f"{schema_file}:")
        and line.endswith(
            "trigger orders_touch on shop.orders: in the file, not in the "
            "database: dropped by hand, or made by a migration or script not applied here"
        )
        for line in lines
    )
    assert f"{schema_file}: index shop.orders_qty: in the database, not in the file" in printed
    assert error == "Validation failed: 3 problem(s)."


def test_validate_says_the_schema_is_the_same(schema_file: Path) -> None:
    printed = run("validate", "--snapshot", str(schema_file))
    objects = len(snapshot.parse(schema_file.read_text(encoding="utf-8"), schema_file))
    assert f"{schema_file}: {objects} object(s), the same in database 'runner'.\n" in printed
    assert "OK: " in printed


def test_validate_json_has_the_snapshot_beside_drift(schema_file: Path) -> None:
    execute("CREATE INDEX orders_qty ON shop.orders (qty);")
    printed, error = refused("validate", "--snapshot", str(schema_file), "--format", "json")
    document = json.loads(printed[: printed.rindex("}") + 1])
    assert document["snapshot"]["path"] == str(schema_file)
    assert document["snapshot"]["objects"] > 0
    (difference,) = document["snapshot"]["differences"]
    assert "index shop.orders_qty: in the database, not in the file" in difference
    assert document["drift"] is not None  # both checks ran
    assert "1 problem(s)" in error


def test_validate_without_the_file_says_to_write_it(tmp_path: Path) -> None:
    _, error = refused("validate", "--snapshot", str(tmp_path / "schema.sql"))
    assert "no schema file there. Write it with manage.py schemaops snapshot" in error


def test_every_kind_of_object_appears(shop: None) -> None:
    text = snapshot.take("runner")
    for expected in [
        "-- schema shop\nCREATE SCHEMA IF NOT EXISTS shop;\n"
        "COMMENT ON SCHEMA shop IS 'The shop''s tables';\n",
        "-- sequence shop.invoice_numbers\nCREATE SEQUENCE shop.invoice_numbers\n"
        "    AS bigint\n    START WITH 1000\n    INCREMENT BY 5\n",
        "    id bigint GENERATED ALWAYS AS IDENTITY (START WITH 100) NOT NULL,\n",
        "    qty integer DEFAULT 1 NOT NULL,\n",
        "    total numeric GENERATED ALWAYS AS (((qty)::numeric * price)) STORED,\n",
        "COMMENT ON TABLE shop.orders IS 'One row per order';\n"
        "COMMENT ON COLUMN shop.orders.qty IS 'How many';\n",
        "-- constraint orders_qty_check on shop.orders\n"
        "ALTER TABLE ONLY shop.orders ADD CONSTRAINT orders_qty_check CHECK ((qty > 0));\n",
        "-- constraint orders_pkey on shop.orders\n",
        "-- index shop.orders_placed_at\n",
        "-- function shop.touch()\nCREATE OR REPLACE FUNCTION shop.touch()\n",
        "-- trigger orders_touch on shop.orders\nCREATE TRIGGER orders_touch BEFORE UPDATE "
        "ON shop.orders FOR EACH ROW EXECUTE FUNCTION shop.touch();\n",
        "-- view shop.big_orders\nCREATE VIEW shop.big_orders AS\n",
        "-- materialized view shop.order_totals\nCREATE MATERIALIZED VIEW shop.order_totals AS\n",
        # Django's bookkeeping and the registry, like any other table.
        "-- table public.django_migrations\n",
        "-- table public.schemaops_historyentry\n",
    ]:
        assert expected in text
    # The primary key's index is the constraint's; a NOT NULL is the column's (18).
    assert "-- index shop.orders_pkey" not in text
    assert "_not_null on shop.orders" not in text


def test_objects_of_an_extension_are_left_out() -> None:
    with connections["runner"].cursor() as cursor:
        cursor.execute("SELECT FROM pg_available_extensions WHERE name = 'citext'")
        if cursor.fetchone() is None:
            pytest.skip("the server has no citext extension")
    execute("CREATE EXTENSION citext; CREATE TABLE public.people (email public.citext)")
    text = snapshot.take("runner")
    assert "-- extension citext\nCREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public;\n" in (
        text
    )
    assert "    email public.citext\n" in text
    # citext's type, functions and operators come with CREATE EXTENSION.
    assert "citextin" not in text
    assert "-- function public.citext" not in text


def test_the_read_leaves_the_session_as_it_was(shop: None) -> None:
    with connections["runner"].cursor() as cursor:
        cursor.execute("SHOW search_path")
        before = cursor.fetchone()
        catalog.read("runner")
        cursor.execute("SHOW search_path")
        assert cursor.fetchone() == before


def test_the_file_splits_back_into_the_objects_it_was_written_from(shop: None) -> None:
    objects = catalog.read("runner")
    parsed = snapshot.parse(snapshot.render(objects), Path("schema.sql"))
    assert [(p.object.key, p.object.sql) for p in parsed] == [(o.key, o.sql) for o in objects]


def test_a_file_with_sql_before_any_header_is_not_a_schema_file() -> None:
    with pytest.raises(SnapshotError, match=r"^dump\.sql:3: not a schemaops schema file"):
        snapshot.parse("-- pg_dump\n\nCREATE TABLE t ();\n", Path("dump.sql"))


def test_an_object_named_twice_is_refused_with_both_lines() -> None:
    text = "-- table public.t\nCREATE TABLE public.t ();\n\n-- table public.t\nCREATE\n"
    with pytest.raises(SnapshotError, match=r"^s\.sql:4: table public\.t is in the file twice"):
        snapshot.parse(text, Path("s.sql"))
