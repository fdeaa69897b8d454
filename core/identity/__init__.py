"""Identity: OpenID Connect sign-in, local passwords, login throttling, password reset and the
delegation rules deciding who may manage which users and grants (see docs/identity.md)."""
