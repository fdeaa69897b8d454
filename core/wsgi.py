"""WSGI entry point for gunicorn: ``gunicorn 'core.wsgi:app'`` (instance from the environment).

Refuses to serve a database that is not at the migration heads: run ``pilote db upgrade``.
"""

from core.app import create_app
from core.migrate import alembic_config, pending

app = create_app()
_missing = pending(app.extensions["pilote"].db.engine, alembic_config(app.extensions["pilote"].config.database_url))
if _missing:
    raise SystemExit(f"database not at heads (missing {', '.join(sorted(_missing))}): run `pilote db upgrade`")
