"""Errors that mean "the input is wrong", as opposed to a bug in g2rl.

The CLI prints these as one line naming the file and the problem (no traceback) and
exits with status 2. Anything else is a bug and keeps its traceback.
"""


class G2RLError(RuntimeError):
    """Bad input: a file, a dataset layout or a config value. The message names it."""


class ConfigError(G2RLError):
    """The workflow configuration is invalid; the message names the key."""


class DatasetLayoutError(G2RLError):
    """A BP4D / DISFA tree does not match the configured layout; the message names the path."""


class MediaError(G2RLError):
    """A video or image cannot be read; the message names the file."""
