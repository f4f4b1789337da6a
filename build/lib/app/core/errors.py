"""Errors the user can act on. Their message is shown in the page as it is,
so it says what happened and what to do, in plain words.

Imports: standard library only.
"""


class InputError(ValueError):
    """The photo cannot be processed (not an image, unsupported, too large...)."""


class TooLargeError(InputError):
    """The photo has more pixels than `limit`. `downscalable`: it can be decoded small
    enough to be downscaled to fit, which the caller may offer (`decode(..., downscale=True)`)."""

    def __init__(self, width: int, height: int, limit: int, downscalable: bool):
        self.width, self.height, self.limit, self.downscalable = width, height, limit, downscalable
        message = (f"The photo is {width}×{height} ({width * height / 1e6:.0f} MP); "
                   f"the largest we can process is {limit / 1e6:.0f} MP")
        if not downscalable:
            message += ", and this one is too large even to downscale here. Make it smaller in another app first"
        super().__init__(message + ".")


class ModelError(RuntimeError):
    """The model file is missing or not the one we expect."""


class Cancelled(Exception):
    """A newer request superseded this one; its partial work is dropped."""
