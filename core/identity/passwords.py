"""Local passwords: werkzeug's scrypt hashes, a length policy, constant-time misses."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 12
MAX_LENGTH = 200
# Compared against when the account is unknown, so that timing does not reveal accounts.
_DUMMY_HASH = generate_password_hash("pilote-no-such-account")


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; the same work is done when there is no hash."""
    ok = check_password_hash(password_hash or _DUMMY_HASH, password)
    return ok and password_hash is not None


def password_problem(password: str, email: str = "") -> str | None:
    """Why ``password`` is refused, or None."""
    if len(password) < MIN_LENGTH:
        return str(_l("Le mot de passe doit compter au moins %(n)d caractères.", n=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        return str(_l("Le mot de passe doit compter au plus %(n)d caractères.", n=MAX_LENGTH))
    if email and password.strip().lower() in (email.lower(), email.partition("@")[0].lower()):
        return str(_l("Le mot de passe ne doit pas reprendre l'adresse électronique."))
    if len(set(password)) < 5:
        return str(_l("Le mot de passe est trop répétitif."))
    return None
