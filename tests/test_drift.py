"""Drift between the Django models and the live database (``validate``), on a real
server: Django creates the models' tables, the test changes one thing by hand, and
drift must name it; the untouched tables must report nothing.

The models live in a registry of their own (``Meta.apps``), so the installed
apps are unchanged; their tables are made by Django's schema editor on the
``runner`` database, inside the test's transaction (rolled back after it).
"""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import django
import pytest
from django.apps.registry import Apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections, models
from django.test.utils import CaptureQueriesContext

from schemaops.schema import drift, expected, live

registry = Apps(["tests.tierapp"])


def _check(condition: models.Q, name: str) -> models.CheckConstraint:
    keyword = "condition" if django.VERSION >= (5, 1) else "check"
    return models.CheckConstraint(**{keyword: condition}, name=name)  # type: ignore[arg-type]


class Tag(models.Model):  # noqa: DJ008
    label = models.TextField()

    class Meta:
        apps = registry
        app_label = "tierapp"
        db_table = "drift_tag"


class Author(models.Model):  # noqa: DJ008
    name = models.CharField(max_length=50, db_index=True)  # an index and a _like index
    email = models.CharField(max_length=80, unique=True)  # UNIQUE and a _like index
    age = models.PositiveIntegerField(default=0)  # CHECK (age >= 0)

    class Meta:
        apps = registry
        app_label = "tierapp"
        db_table = "drift_author"


class Book(models.Model):  # noqa: DJ008
    author = models.ForeignKey(Author, on_delete=models.CASCADE)  # a foreign key, an index
    title = models.CharField(max_length=20)
    pages = models.IntegerField(null=True)
    tags = models.ManyToManyField(Tag)  # the table drift_book_tags
    notes = models.TextField(db_default="", blank=True) if django.VERSION >= (5, 0) else None

    class Meta:
        apps = registry
        app_label = "tierapp"
        db_table = "drift_book"
        indexes = [models.Index(fields=["title"], name="drift_book_title_idx")]
        constraints = [_check(models.Q(pages__gt=0), "drift_book_pages_positive")]
        unique_together = [("author", "title")]


MODELS = [Tag, Author, Book, Book._meta.get_field("tags").remote_field.through]  # type: ignore[union-attr]

pytestmark = pytest.mark.django_db(databases=["default", "runner"])


def run(sql: str) -> None:
    with connections["runner"].cursor() as cursor:
        cursor.execute(sql)


@pytest.fixture
def tables() -> None:
    """The models' tables, as Django creates them (in the test's transaction)."""
    with connections["runner"].schema_editor() as editor:
        for model in (Tag, Author, Book):
            editor.create_model(model)


def findings() -> list[drift.Finding]:
    return drift.compare("runner", expected.tables("runner", MODELS)).findings


def kinds() -> list[tuple[str, str, str]]:
    return [(f.kind.value, f.where, f.object) for f in findings()]


def only(kind: drift.Kind) -> drift.Finding:
    found = findings()
    assert [f.kind for f in found] == [kind], "\n".join(map(str, found))
    return found[0]


# Nothing to report --------------------------------------------------------------


def test_tables_as_django_created_them_have_no_drift(tables: None) -> None:
    assert findings() == []


def test_the_installed_apps_after_migrate_have_no_drift() -> None:
    found = drift.check("runner")
    assert found.findings == [], "\n".join(map(str, found.findings))
    assert found.models > 10  # auth, admin, contenttypes, sessions, schemaops, pgtrigger...


def test_objects_the_models_do_not_know_are_not_drift(tables: None) -> None:
    run("CREATE TABLE drift_script_made (id int NOT NULL)")
    run("CREATE INDEX drift_author_lower_name ON drift_author (lower(name))")
    run("ALTER TABLE drift_book ADD COLUMN isbn text NOT NULL DEFAULT ''")
    run("ALTER TABLE drift_book ADD COLUMN summary text")
    assert findings() == []


# Tables and columns ---------------------------------------------------------------


def test_a_missing_table(tables: None) -> None:
    run("DROP TABLE drift_book_tags")
    finding = only(drift.Kind.MISSING_TABLE)
    assert finding.where == "tierapp.Book_tags"
    assert "table drift_book_tags (the many-to-many table of Book.tags)" in str(finding)


def test_a_missing_column(tables: None) -> None:
    run("ALTER TABLE drift_author DROP COLUMN age")  # its CHECK goes with it, unreported
    finding = only(drift.Kind.MISSING_COLUMN)
    assert finding.where == "tierapp.Author.age"
    assert finding.expected == "column drift_author.age (integer NOT NULL)"
    assert "makemigrations tierapp" in finding.fix


def test_a_column_of_another_type(tables: None) -> None:
    run("ALTER TABLE drift_book ALTER COLUMN title TYPE varchar(40)")
    finding = only(drift.Kind.COLUMN_TYPE)
    assert finding.where == "tierapp.Book.title"
    assert finding.expected == "column drift_book.title of type character varying(20)"
    assert finding.actual == "type character varying(40)"


def test_a_nullable_column_the_model_says_is_not_null(tables: None) -> None:
    run("ALTER TABLE drift_book ALTER COLUMN title DROP NOT NULL")
    assert only(drift.Kind.COLUMN_NULLABLE).where == "tierapp.Book.title"


def test_a_not_null_column_the_model_says_is_nullable(tables: None) -> None:
    run("ALTER TABLE drift_book ALTER COLUMN pages SET NOT NULL")
    finding = only(drift.Kind.COLUMN_NOT_NULL)
    assert finding.where == "tierapp.Book.pages"
    assert "SeparateDatabaseAndState" in finding.fix


def test_a_not_null_column_without_default_the_model_does_not_know(tables: None) -> None:
    run("ALTER TABLE drift_book ADD COLUMN isbn text NOT NULL")
    finding = only(drift.Kind.UNKNOWN_REQUIRED_COLUMN)
    assert (finding.where, finding.actual) == (
        "tierapp.Book.isbn",
        "column drift_book.isbn (text NOT NULL, no default), which no field has",
    )


# Indexes and constraints --------------------------------------------------------------


def field_indexes(model: type[models.Model], field: str) -> list[str]:
    """The names Django gives the indexes of ``field`` (db_index, and the _like one)."""
    editor: Any = connections["runner"].schema_editor(collect_sql=True)
    statements = editor._field_indexes_sql(model, model._meta.get_field(field))
    return [str(s.parts["name"]).strip('"') for s in statements]


def test_a_dropped_index_django_made(tables: None) -> None:
    plain, like = field_indexes(Author, "name")
    assert like.endswith("_like")
    run(f'DROP INDEX "{plain}"')
    finding = only(drift.Kind.MISSING_INDEX)
    assert (finding.where, finding.object) == ("tierapp.Author.name", "name")
    assert finding.expected == f"index {plain} on drift_author (name) (db_index)"
    assert f'CREATE INDEX CONCURRENTLY "{plain}"' in finding.fix


def test_a_dropped_like_index(tables: None) -> None:
    (like,) = field_indexes(Author, "email")  # unique=True: no plain index, a _like one
    run(f'DROP INDEX "{like}"')
    finding = only(drift.Kind.MISSING_INDEX)
    assert finding.where == "tierapp.Author.email"
    assert finding.expected == (
        f"index {like} on drift_author (email) with varchar_pattern_ops (unique)"
    )


def test_a_dropped_meta_index(tables: None) -> None:
    run("DROP INDEX drift_book_title_idx")
    finding = only(drift.Kind.MISSING_CONSTRAINT)
    assert finding.object == "drift_book_title_idx"
    assert finding.expected == "Meta.indexes entry drift_book_title_idx on drift_book"


def test_a_dropped_unique_constraint(tables: None) -> None:
    run("ALTER TABLE drift_author DROP CONSTRAINT drift_author_email_key")
    finding = only(drift.Kind.MISSING_UNIQUE)
    assert finding.where == "tierapp.Author.email"
    assert finding.expected.startswith("a unique constraint on drift_author (email) (unique")


def test_a_dropped_unique_together(tables: None) -> None:
    statement = (
        connections["runner"]
        .schema_editor(collect_sql=True)
        ._create_unique_sql(Book, [Book._meta.get_field("author"), Book._meta.get_field("title")])  # type: ignore[attr-defined]
    )
    name = str(statement.parts["name"]).strip('"')
    run(f'ALTER TABLE drift_book DROP CONSTRAINT "{name}"')
    finding = only(drift.Kind.MISSING_UNIQUE)
    assert "drift_book (author_id, title) (unique_together" in finding.expected


def test_a_dropped_check_constraint(tables: None) -> None:
    run("ALTER TABLE drift_book DROP CONSTRAINT drift_book_pages_positive")
    finding = only(drift.Kind.MISSING_CONSTRAINT)
    assert finding.expected == "Meta.constraints entry drift_book_pages_positive on drift_book"
    assert "CHECK" in finding.fix


def test_a_dropped_field_check(tables: None) -> None:
    run("ALTER TABLE drift_author DROP CONSTRAINT drift_author_age_check")
    assert only(drift.Kind.MISSING_CHECK).where == "tierapp.Author.age"


def test_a_dropped_foreign_key(tables: None) -> None:
    with connections["runner"].cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint"
            " WHERE conrelid = 'drift_book'::regclass AND contype = 'f'"
        )
        (name,) = cursor.fetchone()
    run(f'ALTER TABLE drift_book DROP CONSTRAINT "{name}"')
    finding = only(drift.Kind.MISSING_FOREIGN_KEY)
    assert finding.where == "tierapp.Book.author"
    assert "to drift_author (id)" in finding.expected
    assert "NOT VALID" in finding.fix


@pytest.mark.django_db(databases=["default", "runner"], transaction=True)
def test_an_invalid_index_from_a_failed_concurrent_build() -> None:
    with connections["runner"].schema_editor() as editor:
        editor.create_model(Tag)
    try:
        run("INSERT INTO drift_tag (label) VALUES ('same'), ('same')")
        with pytest.raises(Exception, match="could not create unique index"):
            run("CREATE UNIQUE INDEX CONCURRENTLY drift_tag_label_uniq ON drift_tag (label)")
        (finding,) = drift.compare("runner", expected.tables("runner", [Tag])).findings
        assert finding.kind is drift.Kind.INVALID_INDEX
        assert finding.where == "tierapp.Tag.drift_tag_label_uniq"
        assert finding.actual == "index drift_tag_label_uniq on drift_tag INVALID"
        assert "DROP INDEX CONCURRENTLY drift_tag_label_uniq" in finding.fix
    finally:
        run("DROP TABLE drift_tag")


# What is compared, and what it costs ---------------------------------------------------


def test_apps_with_migrations_to_apply_are_not_compared() -> None:
    run("DELETE FROM django_migrations WHERE app = 'sessions'")  # rolled back after the test
    run("DROP TABLE django_session")
    found = drift.check("runner")
    assert found.pending_apps == ("sessions",)
    assert found.findings == []


def test_the_queries_do_not_grow_with_the_models(tables: None) -> None:
    with CaptureQueriesContext(connections["runner"]) as one:
        drift.compare("runner", expected.tables("runner", [Tag]))
    with CaptureQueriesContext(connections["runner"]) as four:
        drift.compare("runner", expected.tables("runner", MODELS))
    assert len(one.captured_queries) == len(four.captured_queries)
    # The catalog (three queries) and the types asked of the server (two), in a
    # savepoint (here, inside the test's transaction) in case a type is unknown.
    asked = [q["sql"] for q in four.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(asked) == 5, asked


# The command -------------------------------------------------------------------------


def validate(*args: str) -> tuple[str, str, str]:
    """Run ``validate`` on the runner database: stdout, stderr, and the error ("" if none)."""
    out, err = StringIO(), StringIO()
    try:
        call_command(
            "schemaops", "validate", *args, "--database", "runner", stdout=out, stderr=err
        )
    except CommandError as error:
        return out.getvalue(), err.getvalue(), str(error)
    return out.getvalue(), err.getvalue(), ""


def test_validate_prints_one_line_per_finding_and_fails() -> None:
    run("ALTER TABLE auth_user ALTER COLUMN first_name DROP NOT NULL")
    out, err, error = validate()
    assert err.splitlines() == [
        "auth.User.first_name: column-nullable: the models expect column "
        "auth_user.first_name NOT NULL; the database has it NULL-able. A migration that "
        "has not run, a script that failed part-way, or a hand DROP NOT NULL: fill the "
        "NULLs, then SET NOT NULL (after a validated CHECK (... IS NOT NULL) on a big table)."
    ]
    assert error == "Validation failed: 1 problem(s)."
    assert "OK" not in out


def test_validate_in_json_gives_script_problems_and_drift_as_objects() -> None:
    run("ALTER TABLE auth_user ALTER COLUMN first_name DROP NOT NULL")
    out, _, error = validate("--format", "json")
    document = json.loads(out)
    assert error == "Validation failed: 1 problem(s)."
    assert (document["database"], document["problems"]) == ("runner", [])
    (finding,) = document["drift"]["findings"]
    assert {k: finding[k] for k in ("kind", "app", "model", "table", "object")} == {
        "kind": "column-nullable",
        "app": "auth",
        "model": "User",
        "table": "auth_user",
        "object": "first_name",
    }
    assert finding["expected"] == "column auth_user.first_name NOT NULL"


def test_validate_in_json_when_clean() -> None:
    out, _, error = validate("--format", "json")
    assert error == ""
    document = json.loads(out)
    assert document["drift"]["findings"] == []
    assert document["problems"] == []


def test_types_are_compared_as_postgresql_spells_them() -> None:
    shown = live.normalise_types("runner", ["varchar(20)", "serial", "numeric(10, 2)", "nope"])
    assert shown == {
        "varchar(20)": "character varying(20)",
        "serial": "integer",
        "numeric(10, 2)": "numeric(10,2)",
        "nope": "nope",  # not a type the server knows: compared as written
    }
