"""Providers by name. ``default`` names the configured default provider."""

from flask import current_app

from .base import PageData, AttachmentData, PermanentError, Provider, ProviderError, PublishResult, TransientError
from .stub import StubProvider

__all__ = [
    "AttachmentData", "PageData", "PermanentError", "Provider", "ProviderError",
    "PublishResult", "TransientError", "get_provider", "provider_names", "resolve_name",
]

# name -> factory(app config) -> Provider. Real networks register here.
FACTORIES = {
    "stub": lambda config: StubProvider(config["STUB_OUTBOX"], config["STUB_DELAY_MS"]),
}


def provider_names():
    return sorted(FACTORIES)


def resolve_name(name):
    """The real provider name for ``name`` (``default`` or None -> configured default), or None if unknown."""
    if name in (None, "default"):
        name = current_app.config["DEFAULT_PROVIDER"]
    return name if name in FACTORIES else None


def get_provider(name):
    """The provider instance for ``name`` (one per app, so its state is reused)."""
    resolved = resolve_name(name)
    if resolved is None:
        raise KeyError(name)
    cache = current_app.extensions.setdefault("pagesite_providers", {})
    if resolved not in cache:
        cache[resolved] = FACTORIES[resolved](current_app.config)
    return cache[resolved]
