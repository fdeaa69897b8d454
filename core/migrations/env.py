"""Alembic environment of Pilote (configured by core.migrate, never by an alembic.ini)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from core.db import Model
from core.migrate import import_all_models

config = context.config
import_all_models()  # the metadata must hold the tables of the core and every installed plugin
target_metadata = Model.metadata


def include_object(obj, name, type_, reflected, compare_to):
    """When generating a revision for one branch, only consider that branch's tables."""
    branch = config.attributes.get("branch")
    if branch is None or type_ != "table":
        return True
    table = obj if not reflected else compare_to
    owner = (table.info.get("plugin") if table is not None else None) or "core"
    return owner == branch


def run_migrations() -> None:
    engine = config.attributes.get("engine") or engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
