"""PostgreSQL only: an exclusion constraint so that no two [start_date, end_date) intervals of one
symbol in one universe overlap, whatever writes the table. The import service checks the same rule
before writing (and is the only check on SQLite, which has no exclusion constraints)."""

from django.db import migrations

CONSTRAINT = "membership_no_overlap"


def add_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    schema_editor.execute(
        f"ALTER TABLE universes_membership ADD CONSTRAINT {CONSTRAINT} EXCLUDE USING gist "
        "(universe_id WITH =, symbol WITH =, daterange(start_date, end_date, '[)') WITH &&)"
    )


def drop_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE universes_membership DROP CONSTRAINT IF EXISTS {CONSTRAINT}")


class Migration(migrations.Migration):
    dependencies = [("universes", "0001_initial")]

    operations = [migrations.RunPython(add_constraint, drop_constraint)]
