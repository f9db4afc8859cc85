"""The JSON API: thin routes over the services; every error is problem+json."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")

from . import planning, routes, tokens  # noqa: E402,F401  (registers the routes on bp)
