"""API routes for API tokens: create one (with an expiry, if you like) and list yours.

Revoking stays in Settings: a token that could revoke tokens could lock its owner's scripts out."""

from flask import g

from .. import rate_limits
from ..services import auth
from . import bp
from . import shapes as s
from .declare import RATE_LIMITED, endpoint


@bp.post("/tokens")
@rate_limits.token_creation
@endpoint("createToken", "Tokens", "Create an API token",
          "For the account of the token that calls. The answer's `token` is shown this once (only its SHA-256 "
          "is stored). `expires_at` or `expires_in_days` give it an expiry; an expired token answers 401 with "
          "a problem saying it expired.",
          body=s.NewToken, response=s.NewTokenAnswer, status=201, errors=[RATE_LIMITED])
def create_token(body):
    token, record = auth.create_token(g.user, body.name, expires_at=body.expires_at,
                                      expires_in_days=body.expires_in_days)
    record.token = token  # in this answer only
    return record


@bp.get("/tokens")
@endpoint("listTokens", "Tokens", "List your API tokens",
          "Newest first, revoked and expired ones included; never the tokens themselves.", response=s.TokenList)
def list_tokens():
    return {"items": auth.list_tokens(g.user)}
