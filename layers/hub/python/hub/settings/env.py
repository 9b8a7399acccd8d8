"""The environment the template gives each function, read the one way: a variable a function needs
and does not have is a ``CONFIGURATION_ERROR`` naming it (a 500 that says what is wrong with the
stack), never a ``KeyError``."""

from __future__ import annotations

import os

from hub.domain.errors import ConfigurationError


def required(name: str) -> str:
    """The value of the environment variable ``name``; :class:`ConfigurationError` naming it if it is
    unset or empty."""
    value = os.environ.get(name)
    if not value:
        raise ConfigurationError(f"the environment variable {name} is not set")
    return value
