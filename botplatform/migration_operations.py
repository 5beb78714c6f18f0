"""Migration operations that stay safe on a big table."""

from __future__ import annotations

from django.contrib.postgres.operations import TrigramExtension
from django.db.migrations.operations import AddIndex, RemoveIndex
from django.db.migrations.operations.base import Operation


class AddForeignKeyIndex(Operation):
    """The index Django makes for a foreign key, under the name it would give
    it, built CONCURRENTLY on PostgreSQL (writes go on while it builds). Use it
    with SeparateDatabaseAndState: the field is added to the database with
    ``db_index=False``, and to the state as it is declared. The migration must
    not be atomic on PostgreSQL."""

    reduces_to_sql = False

    def __init__(self, model_name: str, field_name: str) -> None:
        self.model_name = model_name
        self.field_name = field_name

    def deconstruct(self) -> tuple[str, list, dict]:
        return self.__class__.__qualname__, [], {"model_name": self.model_name, "field_name": self.field_name}

    def state_forwards(self, app_label: str, state) -> None:
        pass

    def database_forwards(self, app_label: str, schema_editor, from_state, to_state) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        field = model._meta.get_field(self.field_name)
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(schema_editor._create_index_sql(model, fields=[field], concurrently=True))
        else:
            schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))

    def database_backwards(self, app_label: str, schema_editor, from_state, to_state) -> None:
        model = from_state.apps.get_model(app_label, self.model_name)
        field = model._meta.get_field(self.field_name)
        name = schema_editor._create_index_name(model._meta.db_table, [field.column])
        schema_editor.execute(schema_editor._delete_index_sql(model, name))

    def describe(self) -> str:
        return f"Index {self.model_name}.{self.field_name} (concurrently on PostgreSQL)"


def _concurrently(schema_editor) -> dict[str, bool]:
    """The schema editor's index arguments: CONCURRENTLY on PostgreSQL, none elsewhere."""
    return {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}


class AddIndexConcurrently(AddIndex):
    """Django's AddIndex, built CONCURRENTLY on PostgreSQL (writes go on while
    it builds; the migration must not be atomic) and as usual elsewhere."""

    def database_forwards(self, app_label: str, schema_editor, from_state, to_state) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.add_index(model, self.index, **_concurrently(schema_editor))

    def database_backwards(self, app_label: str, schema_editor, from_state, to_state) -> None:
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, **_concurrently(schema_editor))

    def describe(self) -> str:
        return f"{super().describe()} (concurrently on PostgreSQL)"


class RemoveIndexConcurrently(RemoveIndex):
    """Django's RemoveIndex, dropped CONCURRENTLY on PostgreSQL (no lock that
    stops writes while it waits; the migration must not be atomic) and as
    usual elsewhere."""

    def database_forwards(self, app_label: str, schema_editor, from_state, to_state) -> None:
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            index = from_state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
            schema_editor.remove_index(model, index, **_concurrently(schema_editor))

    def database_backwards(self, app_label: str, schema_editor, from_state, to_state) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            index = to_state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
            schema_editor.add_index(model, index, **_concurrently(schema_editor))


class TrigramExtensionOnPostgres(TrigramExtension):
    """pg_trgm on PostgreSQL, nothing elsewhere, both ways: Django's own does
    nothing forwards on another database but looks for the extension in
    PostgreSQL's catalogue when unapplied, which fails on SQLite."""

    def database_backwards(self, app_label: str, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class AddTrigramIndex(Operation):
    """A PostgreSQL trigram index (``pg_trgm``'s ``gin_trgm_ops``) on
    ``UPPER(column)``, the expression Django's ``icontains`` compares, so a
    search for a word inside a text reads the index instead of the table.
    Built CONCURRENTLY (the migration must not be atomic); nothing on other
    databases, which have no such index. Not part of the model's state: a
    table rebuild on SQLite must never try to make it."""

    reduces_to_sql = False

    def __init__(self, model_name: str, field_name: str, name: str) -> None:
        self.model_name = model_name
        self.field_name = field_name
        self.name = name

    def deconstruct(self) -> tuple[str, list, dict]:
        return self.__class__.__qualname__, [], {
            "model_name": self.model_name, "field_name": self.field_name, "name": self.name}

    def state_forwards(self, app_label: str, state) -> None:
        pass

    def database_forwards(self, app_label: str, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        model = to_state.apps.get_model(app_label, self.model_name)
        quote = schema_editor.quote_name
        column = quote(model._meta.get_field(self.field_name).column)
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {quote(self.name)} ON {quote(model._meta.db_table)} "
            f"USING gin (UPPER({column}) gin_trgm_ops)"
        )

    def database_backwards(self, app_label: str, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {schema_editor.quote_name(self.name)}")

    def describe(self) -> str:
        return f"Trigram index {self.name} on {self.model_name}.{self.field_name} (PostgreSQL only)"
