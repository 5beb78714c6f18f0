"""Search inside post texts through an index: pg_trgm and a trigram index on
the text, built CONCURRENTLY on PostgreSQL so posting goes on while it builds
(a few seconds per million posts). Nothing on SQLite."""

from django.db import migrations

from botplatform.migration_operations import AddTrigramIndex, TrigramExtensionOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("bots", "0008_post_review"),
    ]

    operations = [
        TrigramExtensionOnPostgres(),
        AddTrigramIndex(model_name="post", field_name="text", name="post_text_trgm_idx"),
    ]
