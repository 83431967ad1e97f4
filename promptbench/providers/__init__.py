"""Providers: one protocol, one registry; built-ins register like plugins."""

from promptbench.providers.base import Provider, ProviderDef, provider, providers

__all__ = ["Provider", "ProviderDef", "provider", "providers"]
