"""The web process entry point: ``gunicorn wsgi:app``."""

from pagesite import create_app

app = create_app()
