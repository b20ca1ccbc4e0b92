"""Errors shared across ffmodels (kept apart so that raising one imports nothing else)."""


class ConfigError(ValueError):
    """A config value that cannot be run; the message names the key."""
