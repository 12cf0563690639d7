"""The Alembic migrations and the models describe the same schema."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from booking.extensions import db


def test_autogenerate_finds_no_difference_between_models_and_migrations(app_ctx):
    """After `flask db upgrade` (the session fixture ran it), autogenerate has nothing to add."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_migration_head_is_the_only_revision(app_ctx):
    """The reviewed migrations build the schema; the database is at their head."""
    with db.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    assert current == "0007"
