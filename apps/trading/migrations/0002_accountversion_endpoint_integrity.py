"""AccountModelVersion.endpoint always equals its account's endpoint.

PostgreSQL: a composite FOREIGN KEY (account_id, endpoint) -> trading_tradingaccount (id, endpoint)
(the target is the UNIQUE (id, endpoint) constraint of 0001). A link whose endpoint differs from
its account's is refused, and so is changing the endpoint of an account that has links (NO ACTION):
an account does not move between paper and live under the versions linked to it.

SQLite: Django cannot add a composite foreign key to an existing SQLite table, so triggers give the
same two refusals. Both raise IntegrityError in Django. Django re-creates a SQLite table on many
AlterField operations, which drops its triggers: a later migration altering either table must run
`create` again (tests/apps/trading/test_models.py fails if the guarantee is gone).
"""

from django.db import migrations

_POSTGRESQL = {
    "create": [
        "ALTER TABLE trading_accountmodelversion ADD CONSTRAINT accountversion_account_endpoint_fk "
        "FOREIGN KEY (account_id, endpoint) REFERENCES trading_tradingaccount (id, endpoint)",
    ],
    "drop": ["ALTER TABLE trading_accountmodelversion DROP CONSTRAINT accountversion_account_endpoint_fk"],
}

_MISMATCH = (
    "WHEN NEW.endpoint IS NOT (SELECT endpoint FROM trading_tradingaccount WHERE id = NEW.account_id) "
    "BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: link endpoint differs from its account'); END"
)
_SQLITE = {
    "create": [
        f"CREATE TRIGGER trading_accountversion_endpoint_insert BEFORE INSERT ON trading_accountmodelversion {_MISMATCH}",
        "CREATE TRIGGER trading_accountversion_endpoint_update BEFORE UPDATE OF account_id, endpoint "
        f"ON trading_accountmodelversion {_MISMATCH}",
        "CREATE TRIGGER trading_account_endpoint_update BEFORE UPDATE OF endpoint ON trading_tradingaccount "
        "WHEN NEW.endpoint IS NOT OLD.endpoint AND EXISTS "
        "(SELECT 1 FROM trading_accountmodelversion WHERE account_id = OLD.id) "
        "BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: account has model version links'); END",
    ],
    "drop": [
        "DROP TRIGGER IF EXISTS trading_accountversion_endpoint_insert",
        "DROP TRIGGER IF EXISTS trading_accountversion_endpoint_update",
        "DROP TRIGGER IF EXISTS trading_account_endpoint_update",
    ],
}
_BY_VENDOR = {"postgresql": _POSTGRESQL, "sqlite": _SQLITE}


def _run(schema_editor, which: str) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in _BY_VENDOR:
        raise RuntimeError(f"trading 0002: no account/link endpoint integrity SQL for database vendor {vendor!r}")
    for sql in _BY_VENDOR[vendor][which]:
        schema_editor.execute(sql)


def create(apps, schema_editor):
    _run(schema_editor, "create")


def drop(apps, schema_editor):
    _run(schema_editor, "drop")


class Migration(migrations.Migration):
    dependencies = [("trading", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
