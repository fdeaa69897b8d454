"""Core blueprints. Every view declares its permission (see core.permissions)."""

from flask import Flask


def register(app: Flask) -> None:
    from core import api_v1
    from core.views import assets, auth, errors, pages

    app.register_blueprint(assets.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    errors.register(app)
    api_v1.init_app(app)
