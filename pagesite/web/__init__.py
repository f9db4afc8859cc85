"""The HTMX web interface: server-rendered pages that call the same services as the API."""

from flask import Blueprint

bp = Blueprint(
    "web", __name__, template_folder="templates", static_folder="static", static_url_path="/web-static"
)

from . import bulk, calendar, channels, errors, feeds, imports, planning, routes  # noqa: E402,F401  (registers the views and handlers)
