"""Provider types by name. Each module in this package that defines a
Provider subclass registers it with ``@register``; the modules are imported
here, so a new destination is one file with one class."""

import importlib
import pkgutil

from .base import (
    Account, AttachmentData, AuthenticationError, ChannelData, Connection, Counts, InvalidChannel, Limits, PageData,
    PermanentError, Provider, ProviderError, PublishResult, TransientError, UnusableAnswer,
)

__all__ = [
    "Account", "AttachmentData", "AuthenticationError", "ChannelData", "Connection", "Counts", "InvalidChannel", "Limits",
    "PageData", "PermanentError", "Provider", "ProviderError", "PublishResult", "TransientError", "UnusableAnswer",
    "get_provider", "provider_class", "provider_names", "register",
]

REGISTRY = {}  # name -> Provider subclass


def register(cls):
    """Class decorator: make ``cls`` available under ``cls.name``."""
    REGISTRY[cls.name] = cls
    return cls


def provider_names():
    return sorted(REGISTRY)


def provider_class(name):
    """The Provider subclass registered as ``name``, or None."""
    return REGISTRY.get(name) if isinstance(name, str) else None


def get_provider(channel: ChannelData, config):
    """An instance of the channel's provider type, for that channel."""
    return REGISTRY[channel.provider](channel, config)


def _import_all():
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base":
            importlib.import_module(f"{__name__}.{module.name}")


_import_all()
