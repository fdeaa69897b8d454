"""Error pages rendered with the theme."""

from flask import Flask, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError

MESSAGES = {
    400: (_l("Requête invalide"), _l("La requête n'a pas pu être traitée.")),
    401: (_l("Connexion requise"), _l("Connectez-vous pour accéder à cette page.")),
    403: (_l("Accès refusé"), _l("Vos habilitations ne permettent pas d'accéder à cette page.")),
    404: (_l("Page introuvable"), _l("La page demandée n'existe pas ou a été déplacée.")),
    409: (_l("Conflit de modification"), _l("Quelqu'un a modifié ces données entre-temps.")),
    500: (_l("Erreur interne"), _l("Une erreur inattendue s'est produite. L'équipe a été prévenue.")),
}


def register(app: Flask) -> None:
    def handler(error):
        code = getattr(error, "code", 500) or 500
        if code == 401:
            from flask import redirect, url_for

            return redirect(url_for("auth.login", next=request.full_path))
        title, text = MESSAGES.get(code, MESSAGES[500])
        if isinstance(error, CSRFError):
            text = _l("Le formulaire a expiré ou n'est pas valide. Rechargez la page et réessayez.")
        return render_template("errors/error.html", code=code, title=title, text=text), code

    for code in MESSAGES:
        app.register_error_handler(code, handler)
    app.register_error_handler(CSRFError, handler)
