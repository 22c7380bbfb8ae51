"""Alembic environment: runs on the engine the caller passes (see store.db.migrate)."""

from alembic import context
from sqlalchemy import create_engine

from store.models import Base

# Search structures made by raw SQL in the migrations; autogenerate must not drop them.
NOT_IN_MODELS = ("items_fts", "search", "ix_items_search")


def include_name(name, type_, parent_names) -> bool:
    return not (name or "").startswith(NOT_IN_MODELS)


config = context.config
engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url"))

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
