"""Core blueprints. Every view declares its permission (see core.permissions)."""

from flask import Flask


def register(app: Flask) -> None:
    from core import api_v1
    from core.views import assets, auth, completeness, dashboard, errors, indicator, pages, roadmaps, territory

    app.register_blueprint(assets.bp)
    app.register_blueprint(auth.bp)
    from core.views import account, admin_users, audit_log

    for module in (account, admin_users, audit_log):  # identity: my account, users and grants, logs
        app.register_blueprint(module.bp)
    app.register_blueprint(pages.bp)
    for module in (dashboard, territory, indicator, completeness, roadmaps):
        app.register_blueprint(module.bp)
    from core.views import admin_catalog, dialogue, entry, imports_web, notifications, proposals

    for module in (entry, dialogue, proposals, notifications, imports_web, admin_catalog):
        app.register_blueprint(module.bp)
    from core.views import reports

    app.register_blueprint(reports.bp)
    from core.views import campaigns  # review campaigns and their reminders

    app.register_blueprint(campaigns.bp)
    from core.views import preferences  # e-mail preferences and unsubscribe links

    app.register_blueprint(preferences.bp)
    from core.views import help as help_pages, questions  # help pages, FAQ, questions to referents

    app.register_blueprint(help_pages.bp)
    app.register_blueprint(questions.bp)
    from core.views import activity, directory  # activity feeds, featured successes, directory

    for module in (activity, directory):
        app.register_blueprint(module.bp)
    errors.register(app)
    api_v1.init_app(app)
