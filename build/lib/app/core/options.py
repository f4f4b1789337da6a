"""What the user can tune about a cutout, validated once, with defaults that suit
most photos. The page and the command line build one `Options` and pass it to
`pipeline.remove_background`; nothing else in the core reads settings.

Imports: standard library only.

    >>> Options()                                   # the defaults
    >>> Options(shift_edge=-1.5, feather=2)         # contract 1.5 px, then soften 2 px
    >>> Options.from_dict({"decontaminate": False}) # e.g. from the page's controls
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

# Limits, in pixels of the full-resolution photo.
MAX_SHIFT = 20.0
MAX_FEATHER = 50.0


@dataclass(frozen=True)
class Options:
    """Post-processing controls.

    refine_edges       re-estimate alpha in the band around the model's edge from
                       the photo's colours (soft hair and fur, edges on the real
                       boundary, detail at full resolution); False: the model's
                       mask, only upscaled
    decontaminate      replace the old background's colour in partly transparent
                       pixels by the estimated foreground colour (no fringe on a
                       new background)
    remove_specks      drop small islands away from the main subject
    keep_main_subject  drop every island not attached to the largest one
    shift_edge         move the edge out (+) or in (-) by this many pixels
    feather            soften the edge by a blur of this many pixels
    """

    refine_edges: bool = True
    decontaminate: bool = True
    remove_specks: bool = True
    keep_main_subject: bool = False
    shift_edge: float = 0.0
    feather: float = 0.0

    def __post_init__(self):
        for item in fields(self):
            value = getattr(self, item.name)
            if item.type in ("bool", bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{item.name} must be true or false, not {value!r}")
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{item.name} must be a finite number, not {value!r}")
        if abs(self.shift_edge) > MAX_SHIFT:
            raise ValueError(f"shift_edge must be between -{MAX_SHIFT:g} and {MAX_SHIFT:g} pixels")
        if not 0 <= self.feather <= MAX_FEATHER:
            raise ValueError(f"feather must be between 0 and {MAX_FEATHER:g} pixels")

    @classmethod
    def from_dict(cls, values: dict | None) -> "Options":
        """Options from plain values (e.g. sent by the page); unknown names are refused."""
        return from_plain(cls, values, "option")

    def to_dict(self) -> dict:
        return asdict(self)


def from_plain(cls, values: dict | None, what: str):
    """A settings dataclass `cls` from plain values (e.g. sent by the page), its own checks
    applied; a name it does not have is refused, naming the ones it has."""
    values = dict(values or {})
    known = {item.name for item in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {what}(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return cls(**values)


def as_options(value: "Options | dict | None") -> Options:
    """None: the defaults; a dict: validated `Options.from_dict`; Options as they are."""
    if value is None:
        return Options()
    if isinstance(value, Options):
        return value
    if isinstance(value, dict):
        return Options.from_dict(value)
    raise TypeError(f"options must be Options, a dict or None, not {type(value).__name__}")
