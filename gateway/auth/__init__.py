"""REST authentication (API keys, OIDC JWTs) and roles; used by gateway/api and by the CLI that manages keys."""
