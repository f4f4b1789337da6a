"""Errors the user can act on. Their message is shown in the page as it is,
so it says what happened and what to do, in plain words.

Imports: standard library only.
"""


class InputError(ValueError):
    """The photo cannot be processed (not an image, unsupported, too large...)."""


class ModelError(RuntimeError):
    """The model file is missing or not the one we expect."""


class Cancelled(Exception):
    """A newer request superseded this one; its partial work is dropped."""
