"""The app's icons, rendered from its one source, static/icon.svg (run in the build's venv).

    python -m builder.icons static/icon.svg OUT_DIR

writes the PNGs in ICONS (the sizes browsers and the web app manifest ask for). A maskable
icon fills the whole square with the icon's background colour and keeps the drawing inside
the central 80 % (the safe zone a launcher's mask never cuts); the Apple touch icon is the
same full-bleed square (iOS rounds the corners itself and shows transparency as black).

Imports resvg_py (the `build` group of pyproject.toml) and the standard library; builder.webapp reads
ICONS and background_colour() without importing resvg_py.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# file name -> (size in pixels, purpose in the manifest, or None: not in the manifest)
ICONS = {
    "icon-192.png": (192, "any"),
    "icon-512.png": (512, "any"),
    "icon-maskable-192.png": (192, "maskable"),
    "icon-maskable-512.png": (512, "maskable"),
    "apple-touch-icon.png": (180, None),
}
SAFE_ZONE = 0.8  # the W3C maskable icon's safe zone: a centred circle of 80 % of the size


def background_colour(svg: str) -> str:
    """The fill of the icon's first <rect>: its background, the app's theme colour."""
    match = re.search(r'<rect\b[^>]*\bfill="(#[0-9a-fA-F]{3,8})"', svg)
    if not match:
        raise ValueError("the icon has no <rect fill=\"#...\"> background")
    return match.group(1).lower()


def full_bleed(svg: str) -> str:
    """The icon on a full square of its background colour, drawn inside the safe zone."""
    view_box = re.search(r'viewBox="([^"]+)"', svg)
    x, y, width, height = (float(v) for v in view_box.group(1).split())
    margin = width * (1 / SAFE_ZONE - 1) / 2
    inner = svg[svg.index(">", svg.index("<svg")) + 1: svg.rindex("</svg>")]
    side = width + 2 * margin
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{x - margin} {y - margin} {side} {side}">'
        f'<rect x="{x - margin}" y="{y - margin}" width="{side}" height="{side}" fill="{background_colour(svg)}"/>'
        f"{inner}</svg>"
    )


def render(svg: str, out_dir: Path) -> None:
    import resvg_py

    out_dir.mkdir(parents=True, exist_ok=True)
    for name, (size, purpose) in ICONS.items():
        source = svg if purpose == "any" else full_bleed(svg)
        png = resvg_py.svg_to_bytes(svg_string=source, width=size, height=size, skip_system_fonts=True)
        (out_dir / name).write_bytes(bytes(png))


if __name__ == "__main__":
    render(Path(sys.argv[1]).read_text(encoding="utf-8"), Path(sys.argv[2]))
