"""The web process entry point: ``gunicorn wsgi:app``."""

import sys

from pagesite import create_app
from pagesite.config import InvalidSetting

try:
    app = create_app()
except InvalidSetting as e:
    print(e, file=sys.stderr)  # one line for the operator, no traceback
    sys.exit(3)  # gunicorn's "worker failed to boot": it stops instead of restarting workers
