"""Adopting schemaops: ``baseline --from`` reads golang-migrate's, dbmate's or Flyway's own
history table, created here as each tool creates it, on the same database."""

from __future__ import annotations

import pytest
from django.core.management.base import CommandError
from django.db import connections

from schemaops.models import HistoryEntry
from tests.conftest import ScriptFolder

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "runner"])

# As golang-migrate's postgres driver creates it (database/postgres/postgres.go).
GOLANG_MIGRATE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations"
    " (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)"
)
# As dbmate creates it (pkg/driver/postgres).
DBMATE = "CREATE TABLE IF NOT EXISTS schema_migrations (version varchar(128) PRIMARY KEY)"
# As Flyway creates it on PostgreSQL (createMetaDataTable.sql).
FLYWAY = """
CREATE TABLE "flyway_schema_history" (
    "installed_rank" INT NOT NULL,
    "version" VARCHAR(50),
    "description" VARCHAR(200) NOT NULL,
    "type" VARCHAR(20) NOT NULL,
    "script" VARCHAR(1000) NOT NULL,
    "checksum" INTEGER,
    "installed_by" VARCHAR(100) NOT NULL,
    "installed_on" TIMESTAMP NOT NULL DEFAULT now(),
    "execution_time" INTEGER NOT NULL,
    "success" BOOLEAN NOT NULL
);
ALTER TABLE "flyway_schema_history" ADD CONSTRAINT "flyway_schema_history_pk"
    PRIMARY KEY ("installed_rank");
CREATE INDEX "flyway_schema_history_s_idx" ON "flyway_schema_history" ("success");
"""


def sql(*statements: str) -> None:
    with connections["runner"].cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def baselined() -> list[str]:
    return list(
        HistoryEntry.objects.using("runner")
        .filter(location="ops", outcome="baselined")
        .order_by("version")
        .values_list("version", flat=True)
    )


@pytest.fixture
def three_scripts(scripts: ScriptFolder) -> ScriptFolder:
    for number in (1, 2, 3):
        scripts.write(f"{number:06d}_step{number}.up.sql", f"CREATE TABLE adopted_{number} ();")
        scripts.write(f"{number:06d}_step{number}.down.sql", f"DROP TABLE adopted_{number};")
    return scripts


def test_golang_migrate_baselines_up_to_its_version(three_scripts: ScriptFolder) -> None:
    sql(GOLANG_MIGRATE, "INSERT INTO schema_migrations VALUES (2, false)")
    output = three_scripts.run("baseline", "ops", "--from", "golang-migrate")
    assert baselined() == ["000001", "000002"]
    assert "Baselined 2 script(s) of ops from golang-migrate's schema_migrations (version 2)." in (
        output
    )
    status = three_scripts.run("status")
    assert "ops:000003 step3" in status
    row = HistoryEntry.objects.using("runner").filter(outcome="baselined").first()
    assert row is not None
    assert row.note == "baselined from golang-migrate's schema_migrations (version 2)"


def test_a_dirty_golang_migrate_version_is_refused(three_scripts: ScriptFolder) -> None:
    sql(GOLANG_MIGRATE, "INSERT INTO schema_migrations VALUES (3, true)")
    with pytest.raises(CommandError, match=r"says version 3 is dirty: .*migrate force 3"):
        three_scripts.run("baseline", "ops", "--from", "golang-migrate")
    assert baselined() == []


def test_dbmate_baselines_exactly_what_it_applied(three_scripts: ScriptFolder) -> None:
    sql(DBMATE, "INSERT INTO schema_migrations VALUES ('000001'), ('000003')")
    three_scripts.run("baseline", "ops", "--from", "dbmate")
    assert baselined() == ["000001", "000003"]


def test_a_version_with_no_script_is_refused_and_nothing_recorded(
    three_scripts: ScriptFolder,
) -> None:
    sql(DBMATE, "INSERT INTO schema_migrations VALUES ('000001'), ('000009')")
    with pytest.raises(CommandError, match=r"version\(s\) 9 that location 'ops' has no script"):
        three_scripts.run("baseline", "ops", "--from", "dbmate")
    assert baselined() == []


def test_flyway_baselines_its_successful_versions(three_scripts: ScriptFolder) -> None:
    sql(
        FLYWAY,
        "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script,"
        " installed_by, execution_time, success) VALUES"
        " (1, '1', 'step1', 'SQL', 'V1__step1.sql', 'ops', 5, true),"
        " (2, '2', 'step2', 'SQL', 'V2__step2.sql', 'ops', 5, true)",
    )
    three_scripts.run("baseline", "ops", "--from", "flyway")
    assert baselined() == ["000001", "000002"]


def test_a_failed_flyway_migration_is_refused(three_scripts: ScriptFolder) -> None:
    sql(
        FLYWAY,
        "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script,"
        " installed_by, execution_time, success) VALUES"
        " (1, '1', 'step1', 'SQL', 'V1__step1.sql', 'ops', 5, false)",
    )
    with pytest.raises(CommandError, match=r"version 1 \(step1\) failed. Run `flyway repair`"):
        three_scripts.run("baseline", "ops", "--from", "flyway")


def test_a_missing_history_table_says_where_to_look(three_scripts: ScriptFolder) -> None:
    with pytest.raises(CommandError, match=r"There is no table 'old_history' .*--table"):
        three_scripts.run("baseline", "ops", "--from", "dbmate", "--table", "old_history")


def test_with_from_the_location_takes_no_version(three_scripts: ScriptFolder) -> None:
    with pytest.raises(CommandError, match=r"With --from, name the location only \('ops'\)"):
        three_scripts.run("baseline", "ops:000002", "--from", "dbmate")
