"""Alembic environment: the gateway's metadata, the URL handed over by ``gateway.storage.migrate``."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from gateway.storage.tables import map_entities, metadata

map_entities()

config = context.config


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
