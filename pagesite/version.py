"""pagesite's version, as sent to others (User-Agent) and in the API description."""

VERSION = "1.0.0"
