"""Photos with exact ground-truth alpha that nobody tuned on: the data of the quality benches.

    python bench/synth.py --contact OUT.png [--generated 24] [--composites 2] [--seed 20261207]
                          [--size 768x576] [--devset DIR] [--binary]

What it is for: the product was tuned on the 16 devset pairs, so a method can fit them. Here
every `Sample`'s `make()` builds (RGB photo, (H, W) uint8 truth) lazily from a generator seeded
by (seed, crc32 of the sample's name): the same bytes every time, and adding samples changes
no other.

    generated(count, seed, size)   drawn subjects, in turn: gen_mesh (wire mesh, nets, screens:
        1-3.5 px wires), gen_fence (pickets, railings, rail fences), gen_ring (rings, cups with a
        handle, picture frames: enclosed holes), gen_leaves (stems and leaves, mostly in a pot),
        gen_glass (tumblers, wine glasses, bottles, vases: alpha 0.2-0.65 inside, opaque edges,
        rim and highlight), gen_hard (boxes, cans, polygons, bottles, labels; sometimes a second
        object, sometimes in the background's own colour), twice each, then one gen_multi (a
        subject and one or two small objects far from it). Size, position (a fifth at a
        border, partly outside), turn, colour, shading (light, round shading, specular spots,
        texture crops of the bundled photos) and background vary. A subject with under 1 % of
        the photo above alpha 0.1, or over 70 % above 0.5, is drawn again. gt_type "alpha".
        About 0.2 s of CPU a 768x576 sample (mesh, the slowest: up to 0.45 s).
    devset_composites(per_subject, seed, devset, soft_only)   each devset pair (soft mattes
        only by default) on `per_subject` new backgrounds, the kinds in turn. Unlike
        bench/recomposite.py the subject's colour F is estimated first (blur fusion,
        `app.core.matting.foreground_planes`), so no fringe of the old background comes along:
        photo = alpha F + (1 - alpha) B. Binary pairs keep the photo as F. A subject's samples
        are listed together: F is cached for the last two subjects made (0.5 s, then 0.1 s a sample).

`make_background(kind, size, rng)`: photo (a bundled photo cropped, zoomed, mirrored, its
contrast, exposure and white balance varied), photo_blur (the same, blurred like a shallow
depth of field), texture (multi-scale noise between two colours, chroma noise), gradient (two
or three colours, linear or radial), busy (a mosaic of crops, textures and gradients with hard
seams, and shapes), solid (white and near-white most often, greys, saturated colours), studio
(a light wall with a vignette, a floor and a soft shadow band).

Drawing: shapes go into an id map of materials at 4x (Pillow ImageDraw; later shapes cover
earlier ones). A material's alpha at a pixel is the share of the 16 subpixels it covers
(exact) times its opacity (glass); premultiplied colour and alpha then go through a Gaussian
lens (sigma 0.3-0.9 px), and the truth is that alpha rounded to 8 bits. The photo is made with
the rounded truth, so where it is 0 the photo is the background; grain is added to both layers.

Limits. Drawn subjects are cleaner than photos: smooth materials, no hair or fur, no motion
blur, no shadow cast on the background, no JPEG; their difficulty is geometry (holes, thin
parts, transparency, look-alike colours). Composites repeat the devset subjects (not
independent samples), and F is an estimate: where the old background was close to the
subject's colour a little fringe may remain. Nine bundled photos, varied by crop and colour.

Imports: NumPy, Pillow, SciPy (ndimage); bench/devset.py and `app.core.matting` only for the
composites. scikit-image and scikit-learn are not imported: importlib finds their folders.
"""
from __future__ import annotations

import argparse
import colorsys
import functools
import importlib.util
import sys
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps
from scipy import ndimage

BENCH = Path(__file__).resolve().parent
DEFAULT_DEVSET = BENCH.parent.parent / "shared" / "devset"
SEED = 20261207
SCALE = 4       # subjects are drawn at 4x: coverage counts 16 subpixels
KINDS = ("photo", "photo_blur", "texture", "gradient", "busy", "solid", "studio")
GENERATED_KINDS = ("photo", "solid", "texture", "photo_blur", "studio", "gradient", "busy", "solid")   # solid: white
CATEGORIES = ("gen_mesh", "gen_fence", "gen_ring", "gen_leaves", "gen_glass", "gen_hard") * 2 + ("gen_multi",)
PHOTOS = (("skimage", "data", ("astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png",
                               "motorcycle_right.png", "rocket.jpg", "hubble_deep_field.jpg")),
          ("sklearn", "datasets/images", ("china.jpg", "flower.jpg")))
SURFACES = ("brick.png", "grass.png", "gravel.png")     # grey scikit-image photos: textures of materials
FAMILIES = {    # object colours: ranges of hue, saturation, value
    "metal": ((0, 1), (0, .12), (.35, .85)), "dark": ((0, 1), (0, .3), (.05, .22)),
    "white": ((0, 1), (0, .08), (.85, 1)), "wood": ((.04, .1), (.35, .7), (.3, .75)),
    "green": ((.18, .42), (.4, .9), (.22, .7)), "vivid": ((0, 1), (.55, 1), (.5, 1)),
    "pastel": ((0, 1), (.1, .4), (.75, 1)), "any": ((0, 1), (0, 1), (.1, 1))}


@dataclass(frozen=True)
class Sample:
    name: str          # unique, stable, filename-safe: "gen-fence-03.texture-17", "am_GT05.studio-02"
    category: str      # "gen_mesh" ... "gen_multi", or "comp_<devset category>"
    subject: str       # "gen-fence-03", or the devset pair's name
    background: str    # "<kind>-<index>"
    gt_type: str       # "alpha" (soft, exact) or "binary"
    make: Callable[[], tuple[Image.Image, np.ndarray]]     # (RGB photo, (H, W) uint8 truth)


def _rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _pick(rng, options):
    return options[rng.integers(len(options))]


# --------------------------------------------------------------------------- bundled photos

def _folder(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    return Path(spec.origin).parent if spec is not None and spec.origin else None


@functools.lru_cache(maxsize=None)
def _bundled(grey: bool = False) -> tuple[Path, ...]:
    """The installed bundled photos (with `grey`, the grey textures first)."""
    names = ((("skimage", "data", SURFACES),) if grey else ()) + PHOTOS
    found = [root / sub / name for package, sub, files in names if (root := _folder(package))
             for name in files if (root / sub / name).is_file()]
    if not found:
        raise RuntimeError("no bundled photos found: scikit-image or scikit-learn must be installed")
    return tuple(found)


@functools.lru_cache(maxsize=None)
def _image(path: Path, mode: str = "RGB") -> Image.Image:
    with Image.open(path) as image:
        return image.convert(mode)


def _crop(image: Image.Image, size, rng, zoom=(1.0, 2.2)) -> Image.Image:
    """A random crop of `image` scaled to fill `size`, mirrored half the time."""
    scale = max(size[0] / image.width, size[1] / image.height) * rng.uniform(*zoom)
    width, height = size[0] / scale, size[1] / scale
    left, top = rng.uniform(0, image.width - width), rng.uniform(0, image.height - height)
    out = image.resize(size, Image.Resampling.BICUBIC, box=(left, top, left + width, top + height))
    return ImageOps.mirror(out) if rng.random() < 0.5 else out


def _surface(size, rng) -> np.ndarray:
    """(H, W) zero-mean texture of unit spread: a crop of a bundled photo's grey."""
    grey = np.asarray(_crop(_image(_pick(rng, _bundled(grey=True)), "L"), size, rng, (1.0, 3.0)), np.float32)
    return np.clip((grey - grey.mean()) / max(float(grey.std()), 1.0), -2.5, 2.5)


# --------------------------------------------------------------------------- backgrounds

@functools.lru_cache(maxsize=8)
def _grid(size) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:size[1], 0:size[0]].astype(np.float32)
    return y, x


def _colour(rng, family: str = "any") -> np.ndarray:
    hue, saturation, value = FAMILIES[family]
    rgb = colorsys.hsv_to_rgb(rng.uniform(*hue), rng.uniform(*saturation), rng.uniform(*value))
    return np.array(rgb, np.float32) * 255


def _photo(size, rng, blur: bool = False) -> np.ndarray:
    image = _crop(_image(_pick(rng, _bundled())), size, rng)
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.004, 0.02) * np.hypot(*size)))
    pixels = np.asarray(image, np.float32)
    mean = pixels.mean((0, 1))
    gain = (rng.uniform(0.88, 1.12, 3) * rng.uniform(0.8, 1.15)).astype(np.float32)    # white balance, exposure
    return (mean + (pixels - mean) * rng.uniform(0.7, 1.2)) * gain


def _noise(size, rng, channels: int, finest: int, coarsest: int, beta: float) -> np.ndarray:
    """(H, W, channels) noise summed over cells of finest..coarsest px, weighted cell**beta, unit spread."""
    total, cell = np.zeros((size[1], size[0], channels), np.float32), finest
    while cell <= coarsest:
        for c in range(channels):
            grid = rng.standard_normal((size[1] // cell + 2, size[0] // cell + 2), np.float32)
            total[..., c] += cell ** beta * np.asarray(Image.fromarray(grid, "F").resize(size, Image.Resampling.BILINEAR))
        cell *= 2
    return total / max(float(total.std()), 1e-6)


def _texture(size, rng) -> np.ndarray:
    light = _noise(size, rng, 1, _pick(rng, (1, 2, 4)), _pick(rng, (32, 64, 128, 256)), rng.uniform(0.2, 1.3))
    first, second = _colour(rng), _colour(rng)
    return first + (second - first) * np.clip(0.5 + light * rng.uniform(0.12, 0.35), 0, 1) \
        + _noise(size, rng, 3, 8, 128, 1.0) * rng.uniform(0, 25)


def _gradient(size, rng) -> np.ndarray:
    y, x = _grid(size)
    if rng.random() < 0.3:
        t = np.hypot(x - rng.uniform(0, size[0]), y - rng.uniform(0, size[1]))
    else:
        angle = rng.uniform(0, 2 * np.pi)
        t = x * float(np.cos(angle)) + y * float(np.sin(angle))
    t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
    stops = [_colour(rng) for _ in range(rng.integers(2, 4))]
    return np.stack([np.interp(t, np.linspace(0, 1, len(stops)), [s[c] for s in stops]) for c in range(3)], -1)


def _solid(size, rng) -> np.ndarray:
    pick = rng.random()
    if pick < 0.45:     # white and near-white: the sellers' studio shot
        colour = rng.uniform(236, 255) + rng.uniform(-3, 3, 3)
    else:
        colour = np.full(3, rng.uniform(15, 200)) + rng.uniform(-6, 6, 3) if pick < 0.65 else _colour(rng, "vivid")
    return np.ones((size[1], size[0], 3), np.float32) * np.asarray(colour, np.float32)


def _studio(size, rng) -> np.ndarray:
    (width, height), (y, x) = size, _grid(size)
    centre_x, centre_y = width * rng.uniform(0.3, 0.7), height * rng.uniform(0.2, 0.6)
    light = 1 - rng.uniform(0.06, 0.3) * 4 * ((x - centre_x) ** 2 + (y - centre_y) ** 2) / (width ** 2 + height ** 2)
    floor = height * rng.uniform(0.55, 0.92)
    light *= 1 + rng.uniform(-0.08, 0.05) / (1 + np.exp(-(y - floor) / (height * rng.uniform(0.02, 0.1))))
    band = np.exp(-((y - floor - 0.03 * height) / (height * rng.uniform(0.02, 0.06))) ** 2)
    light *= 1 - rng.uniform(0.04, 0.16) * band * np.exp(-((x - centre_x) / (width * rng.uniform(0.15, 0.4))) ** 2)
    return (rng.uniform(205, 250) + rng.uniform(-4, 4, 3)).astype(np.float32) * light[..., None]


def _busy(size, rng) -> np.ndarray:
    """A cluttered scene: a mosaic of photo crops, textures and gradients with hard seams, and shapes."""
    canvas, tiles = Image.new("RGB", size), [(0, 0, *size)]
    for _ in range(rng.integers(3, 8)):     # split the largest tile across its longer side
        tiles.sort(key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
        left, top, right, bottom = tiles.pop()
        if right - left > bottom - top:
            cut = int(left + (right - left) * rng.uniform(0.3, 0.7))
            tiles += [(left, top, cut, bottom), (cut, top, right, bottom)]
        else:
            cut = int(top + (bottom - top) * rng.uniform(0.3, 0.7))
            tiles += [(left, top, right, cut), (left, cut, right, bottom)]
    for box in tiles:
        kind = _pick(rng, ("photo", "photo", "texture", "gradient"))
        fill = make_background(kind, (box[2] - box[0], box[3] - box[1]), rng)
        canvas.paste(Image.fromarray(np.rint(fill).astype(np.uint8)), box[:2])
    pen = ImageDraw.Draw(canvas)
    for _ in range(rng.integers(5, 16)):
        colour, shape = tuple(int(c) for c in _colour(rng)), rng.integers(3)
        x, y, r = rng.uniform(0, size[0]), rng.uniform(0, size[1]), rng.uniform(0.02, 0.15) * min(size)
        if shape == 0:
            pen.ellipse((x - r, y - r * rng.uniform(0.4, 1), x + r, y + r), fill=colour)
        elif shape == 1:
            pen.rectangle((x - r, y - r * rng.uniform(0.3, 1), x + r * rng.uniform(0.3, 1.5), y + r), fill=colour)
        else:
            end = (x + rng.uniform(-4, 4) * r, y + rng.uniform(-4, 4) * r)
            pen.line((x, y, *end), fill=colour, width=int(rng.integers(2, 12)))
    return np.asarray(canvas, np.float32)


def background_kinds() -> tuple[str, ...]:
    return KINDS


def make_background(kind: str, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) float32 background on [0, 255] of `kind` for `size` (width, height)."""
    makers = {"photo": _photo, "photo_blur": functools.partial(_photo, blur=True), "texture": _texture,
              "gradient": _gradient, "busy": _busy, "solid": _solid, "studio": _studio}
    if kind not in makers:
        raise ValueError(f"unknown background kind {kind!r}; choose from {', '.join(KINDS)}")
    return np.clip(makers[kind](tuple(size), rng), 0, 255).astype(np.float32)


def composite(foreground: np.ndarray, alpha: np.ndarray, back: np.ndarray) -> Image.Image:
    """alpha * foreground + (1 - alpha) * back, rounded to 8-bit RGB. Colours (H, W, 3) on
    [0, 255]; alpha (H, W), integers on 0..255 or floats on [0, 1]."""
    alpha = np.asarray(alpha)
    weight = (alpha / np.float32(255) if alpha.dtype.kind in "ui" else alpha.astype(np.float32))[..., None]
    mixed = weight * np.asarray(foreground, np.float32) + (1 - weight) * np.asarray(back, np.float32)
    return Image.fromarray(np.clip(np.rint(mixed), 0, 255).astype(np.uint8), "RGB")


# --------------------------------------------------------------------------- drawing

def _turn(points, angle: float, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    p = np.asarray(points, np.float64).reshape(-1, 2)
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([dx + p[:, 0] * c - p[:, 1] * s, dy + p[:, 0] * s + p[:, 1] * c], axis=1)


def _ellipse(cx, cy, rx, ry, n: int = 96, start=0.0, stop=2 * np.pi) -> np.ndarray:
    t = np.linspace(start, stop, n, endpoint=stop - start < 2 * np.pi)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _rect(left, top, right, bottom) -> np.ndarray:
    return np.array([(left, top), (right, top), (right, bottom), (left, bottom)], np.float64)


def _closed(points) -> np.ndarray:
    return np.vstack([points, points[:1]])


@dataclass(frozen=True)
class _Frame:
    """An object's own coordinates (u right, v down) with origin (x, y) in the photo, turned by
    `angle`; `s` is the object's size in px."""
    x: float
    y: float
    angle: float
    s: float

    def map(self, points) -> np.ndarray:
        return _turn(points, self.angle, self.x, self.y)

    def uv(self, size, window) -> tuple[np.ndarray, np.ndarray]:
        y, x = _grid(size)
        c, s = float(np.cos(self.angle)), float(np.sin(self.angle))
        dx, dy = x[window] - self.x, y[window] - self.y
        return dx * c + dy * s, dy * c - dx * s

    def child(self, u, v, s, turn: float = 0.0) -> _Frame:
        (x, y), = self.map([(u, v)])
        return _Frame(float(x), float(y), self.angle + turn, s)


class _Drawing:
    """A subject: an id map of materials at SCALE x (0: nothing). A material is a colour and an
    opacity, each a constant or a function of a window (a pair of slices) of the photo."""

    def __init__(self, size, rng):
        self.size, self.rng = size, rng
        self.ids = Image.new("L", (size[0] * SCALE, size[1] * SCALE))
        self.pen = ImageDraw.Draw(self.ids)
        self.materials, self.boxes = [], []

    def material(self, colour, opacity=1.0) -> int:
        self.materials.append((colour, opacity))
        self.boxes.append([np.inf, np.inf, -np.inf, -np.inf])
        return len(self.materials)

    def _xy(self, frame, points, material, pad=0.0):
        xy = frame.map(points)
        box = self.boxes[material - 1]
        box[:2] = np.minimum(box[:2], xy.min(0) - pad)
        box[2:] = np.maximum(box[2:], xy.max(0) + pad)
        return [(x * SCALE, y * SCALE) for x, y in xy.tolist()]

    def fill(self, frame, points, material):
        self.pen.polygon(self._xy(frame, points, material), fill=material)

    def stroke(self, frame, points, width, material):
        xy = self._xy(frame, points, material, width)
        self.pen.line(xy, fill=material, width=max(1, round(width * SCALE)), joint="curve")

    def cut(self, frame, outer, holes, material, extra=None):
        """`outer` minus `holes` (what was drawn before shows through them), and with `extra` (a
        function of an ImageDraw at SCALE x) only where it draws too."""
        mask = Image.new("L", self.ids.size)
        pen = ImageDraw.Draw(mask)
        pen.polygon(self._xy(frame, outer, material), fill=255)
        for hole in holes:
            pen.polygon([(x * SCALE, y * SCALE) for x, y in frame.map(hole).tolist()], fill=0)
        if extra is not None:
            lines = Image.new("L", self.ids.size)
            extra(ImageDraw.Draw(lines))
            mask = ImageChops.multiply(mask, lines)
        self.ids.paste(material, (0, 0, *self.ids.size), mask)

    def render(self, sigma: float) -> tuple[np.ndarray, np.ndarray]:
        """(colour (H, W, 3) on [0, 255], alpha (H, W) on [0, 1]) after a Gaussian lens of `sigma` px."""
        width, height = self.size
        premultiplied, alpha = np.zeros((height, width, 3), np.float32), np.zeros((height, width), np.float32)
        for index, ((colour, opacity), box) in enumerate(zip(self.materials, self.boxes), start=1):
            left, top = max(int(np.floor(box[0])) - 1, 0), max(int(np.floor(box[1])) - 1, 0)
            right, bottom = min(int(np.ceil(box[2])) + 2, width), min(int(np.ceil(box[3])) + 2, height)
            if right <= left or bottom <= top:
                continue
            lut = [0] * 256
            lut[index] = SCALE * SCALE      # so a SCALE x SCALE box mean counts the covered subpixels
            patch = self.ids.crop((left * SCALE, top * SCALE, right * SCALE, bottom * SCALE)).point(lut).reduce(SCALE)
            window = np.s_[top:bottom, left:right]
            cover = np.asarray(patch, np.float32) / SCALE ** 2 * (opacity(window) if callable(opacity) else opacity)
            alpha[window] += cover
            premultiplied[window] += cover[..., None] * (colour(window) if callable(colour) else colour)
        rows, columns = np.flatnonzero(alpha.any(1)), np.flatnonzero(alpha.any(0))
        if len(rows):       # the lens, on the subject's box and a margin
            margin = int(4 * sigma) + 2
            top, left = max(rows[0] - margin, 0), max(columns[0] - margin, 0)
            window = np.s_[top:rows[-1] + margin + 1, left:columns[-1] + margin + 1]
            alpha[window] = ndimage.gaussian_filter(alpha[window], sigma)
            premultiplied[window] = ndimage.gaussian_filter(premultiplied[window], (sigma, sigma, 0))
        return np.clip(premultiplied / np.maximum(alpha, 1e-6)[..., None], 0, 255), np.clip(alpha, 0, 1)


def _shade(d: _Drawing, f: _Frame, base, light=0.35, round_=None, gloss=0.0, texture=0.0) -> Callable:
    """A colour field: `base` lit across the object, round (a cylinder of half-width `round_`
    along u) or with a specular spot, textured by a crop of a bundled photo."""
    rng, base = d.rng, np.asarray(base, np.float32)
    angle, strength, shine = rng.uniform(0, 2 * np.pi), light * rng.uniform(0.3, 1), rng.uniform(0.2, 0.6)
    (spot_u, spot_v), spot_r = rng.uniform(-0.3, 0.3, 2) * f.s, rng.uniform(0.05, 0.2) * f.s
    grain = 1 + texture * _surface(d.size, rng) if texture else None

    def field(window):
        u, v = f.uv(d.size, window)
        lit = 1 + strength * (u * float(np.cos(angle)) + v * float(np.sin(angle))) / f.s
        if round_:
            t = np.clip(u / round_, -1, 1)
            lit *= 0.55 + 0.5 * np.sqrt(1 - t * t)
            spot = np.exp(-((t + shine) / 0.15) ** 2)
        else:
            spot = np.exp(-((u - spot_u) ** 2 + (v - spot_v) ** 2) / spot_r ** 2)
        colour = base * (lit if grain is None else lit * grain[window])[..., None]
        return np.clip(colour + (255 - colour) * (gloss * spot)[..., None], 0, 255)
    return field


def _paint(d, f, family, **shading) -> int:
    return d.material(_shade(d, f, _colour(d.rng, family), **shading))


# --------------------------------------------------------------------------- subjects

def _mesh(d: _Drawing, f: _Frame, back) -> None:
    """Two families of wires clipped to a rectangle or a disc, often in a frame."""
    rng, s = d.rng, f.s
    half_w = s * rng.uniform(0.4, 0.8)
    outline = _ellipse(0, 0, s / 2, s / 2) if rng.random() < 0.35 else _rect(-half_w, -s / 2, half_w, s / 2)
    pitch, width, first, reach = rng.uniform(7, 26), rng.uniform(1, 3.5), rng.uniform(0, np.pi), np.hypot(half_w, s / 2)
    wires = []
    for angle in (first, first + rng.uniform(np.pi / 3, np.pi / 2)):
        along, across = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle), np.cos(angle)])
        offsets = np.arange(-reach + rng.uniform(0, pitch), reach, pitch)
        wires += [[o * across - reach * along, o * across + reach * along] for o in offsets]

    def draw_wires(pen):
        for wire in wires:
            pen.line([(x * SCALE, y * SCALE) for x, y in f.map(wire).tolist()], fill=255, width=round(width * SCALE))
    wire = _paint(d, f, _pick(rng, ("metal", "dark", "green", "white", "vivid")), gloss=rng.uniform(0, 0.4))
    d.cut(f, outline, [], wire, draw_wires)
    if rng.random() < 0.6:
        d.stroke(f, _closed(outline), rng.uniform(3, 12), _paint(d, f, "any", texture=0.1))


def _fence(d: _Drawing, f: _Frame, back) -> None:
    """Pickets on two rails, balusters between a top and a bottom rail, or posts and rails."""
    rng, s = d.rng, f.s
    style = _pick(rng, ("picket", "railing", "rails"))
    span, pitch = s * rng.uniform(1.5, 4), s * rng.uniform(0.1, 0.3)
    post = pitch * (rng.uniform(0.15, 0.3) if style == "railing" else rng.uniform(0.3, 0.65))
    base = _colour(rng, _pick(rng, ("wood", "white", "dark", "metal")))
    posts = d.material(_shade(d, f, base, texture=rng.uniform(0, 0.25), gloss=rng.uniform(0, 0.2)))
    rails = d.material(_shade(d, f, base * rng.uniform(0.75, 1.1), texture=rng.uniform(0, 0.25)))
    levels = {"picket": (-0.25, 0.3), "railing": (-0.5, 0.45), "rails": np.sort(rng.uniform(-0.45, 0.45, 3))}[style]
    thick = s * (rng.uniform(0.03, 0.06) if style == "railing" else rng.uniform(0.05, 0.1))
    tip = post * 0.6 * (style == "picket")

    def draw_rails():
        for level in levels[:2] if style == "rails" and rng.random() < 0.5 else levels:
            d.fill(f, _rect(-span / 2, level * s - thick / 2, span / 2, level * s + thick / 2), rails)

    def draw_posts():
        for left in np.arange(-span / 2, span / 2, pitch):
            right, top = left + post, tip - s / 2
            d.fill(f, [(left, top), ((left + right) / 2, -s / 2), (right, top), (right, s / 2), (left, s / 2)], posts)
    for draw in (draw_posts, draw_rails) if style == "railing" else (draw_rails, draw_posts):     # railings: rails in front
        draw()


def _ring(d: _Drawing, f: _Frame, back) -> None:
    """One to three rings, a cup with a handle (maybe on a saucer), or a picture frame."""
    rng, s = d.rng, f.s
    variant = rng.integers(3)
    if variant:     # cups and frames stand about upright
        f = _Frame(f.x, f.y, f.angle * 0.15, s)
    if variant == 0:
        count = int(rng.integers(1, 4))
        radius = s / 2 / (1 + 0.55 * (count - 1))
        for i in range(count):
            g = f.child((i - (count - 1) / 2) * radius * 1.1, rng.uniform(-0.2, 0.2) * radius, radius, rng.uniform(-0.5, 0.5))
            squash, hole = rng.uniform(0.5, 1), rng.uniform(0.4, 0.75)
            family = _pick(rng, ("vivid", "metal", "wood", "any"))
            m = _paint(d, g, family, gloss=rng.uniform(0, 0.6), texture=rng.uniform(0, 0.15))
            d.cut(g, _ellipse(0, 0, radius, radius * squash), [_ellipse(0, 0, radius * hole, radius * squash * hole)], m)
    elif variant == 1:
        top, height = s * rng.uniform(0.22, 0.32), s * rng.uniform(0.5, 0.7)
        bottom, lip = top * rng.uniform(0.7, 1), top * rng.uniform(0.15, 0.3)
        base = _colour(rng, _pick(rng, ("white", "vivid", "pastel", "dark")))
        body = d.material(_shade(d, f, base, round_=top, gloss=rng.uniform(0.1, 0.6)))
        if rng.random() < 0.4:
            d.fill(f, _ellipse(0, height / 2, top * 1.8, lip * 1.2), d.material(_shade(d, f, base * 0.95)))
        handle = f.child(top * 0.95, -height * 0.05, s)
        d.cut(handle, _ellipse(0, 0, s * 0.16, height * 0.32), [_ellipse(0, 0, s * 0.09, height * 0.2)], body)
        rounded_bottom = _ellipse(0, height / 2 - lip, bottom, lip, 24, 0, np.pi)
        d.fill(f, np.vstack([[(-top, -height / 2), (top, -height / 2)], rounded_bottom]), body)
        d.fill(f, _ellipse(0, -height / 2, top, lip), d.material(_shade(d, f, base * 0.55)))
        d.stroke(f, _closed(_ellipse(0, -height / 2, top, lip)), 2, d.material(_shade(d, f, base * 1.1)))
    else:
        half_w, border = s * rng.uniform(0.3, 0.6), s * rng.uniform(0.06, 0.16)
        inner = _rect(-half_w + border, border - s / 2, half_w - border, s / 2 - border)
        wood = _paint(d, f, _pick(rng, ("wood", "dark", "white", "metal")), texture=0.3)
        d.cut(f, _rect(-half_w, -s / 2, half_w, s / 2), [inner], wood)
        d.stroke(f, _closed(inner), rng.uniform(1.5, 4), _paint(d, f, "any"))


def _leaf(length, width) -> np.ndarray:
    """A teardrop along +u from the origin."""
    t = np.linspace(0, 1, 14)
    half = width / 2 * np.sin(np.pi * t) ** 0.8 * (1 - 0.3 * t)
    return np.vstack([np.stack([t * length, half], 1), np.stack([t * length, -half], 1)[::-1]])


def _plant(d: _Drawing, f: _Frame, back) -> None:
    """Curved stems with leaves on alternate sides, mostly growing from a pot."""
    rng, s = d.rng, f.s
    potted, pot_h, pot_w = rng.random() < 0.7, s * rng.uniform(0.18, 0.3), s * rng.uniform(0.12, 0.22)
    ground = s / 2 - pot_h if potted else s / 2
    stem = d.material(_shade(d, f, _colour(rng, "green") * 0.7))
    leaves = [_paint(d, f, "green", texture=rng.uniform(0, 0.2), gloss=rng.uniform(0, 0.3))
              for _ in range(rng.integers(1, 4))]
    stems = []
    for _ in range(rng.integers(3, 9)):
        heading, step = -np.pi / 2 + rng.uniform(-0.7, 0.7), s * rng.uniform(0.45, 0.85) / 8
        points = [np.array([rng.uniform(-0.4, 0.4) * pot_w, ground])]
        for _ in range(8):
            heading += rng.normal(0, 0.15)
            points.append(points[-1] + step * np.array([np.cos(heading), np.sin(heading)]))
        d.stroke(f, points, rng.uniform(1.2, 4), stem)
        stems.append((points, heading))
    if potted:
        base = _colour(rng, _pick(rng, ("wood", "white", "vivid", "dark")))
        d.fill(f, [(-pot_w, ground), (pot_w, ground), (pot_w * 0.75, s / 2), (-pot_w * 0.75, s / 2)],
               d.material(_shade(d, f, base, round_=pot_w, gloss=rng.uniform(0, 0.4))))
        rim = _rect(-pot_w * 1.08, ground, pot_w * 1.08, ground + pot_h * 0.18)
        d.fill(f, rim, d.material(_shade(d, f, base * 1.1, round_=pot_w)))
    for points, heading in stems:
        size = s * rng.uniform(0.06, 0.15)
        for k in range(2, len(points)):
            for angle in ([heading] if k == len(points) - 1 else []) + [heading + (-1) ** k * rng.uniform(0.5, 1.2)]:
                leaf = _turn(_leaf(size * rng.uniform(0.7, 1.2), size * rng.uniform(0.3, 0.55)), angle, *points[k])
                d.fill(f, leaf, _pick(rng, leaves))


def _profile(kind: str, s: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """(v, r): the half-width r at heights v (top -s/2 to bottom s/2) of a turned vessel."""
    v = np.linspace(-s / 2, s / 2, 121)
    t, w, stem = (v + s / 2) / s, s * rng.uniform(0.15, 0.28), s * 0.015
    if kind == "tumbler":
        return v, w * (1 - rng.uniform(0, 0.25) * t)
    if kind == "wine":
        bowl = w * np.sin(np.pi * (0.3 + 0.7 * np.clip(t / 0.55, 0, 1))) ** 0.6
        return v, np.maximum(np.where(t < 0.55, bowl, stem), stem) + np.where(t > 0.94, w * 0.9 - stem, 0)
    if kind == "bottle":
        neck, shoulder = w * rng.uniform(0.28, 0.4), np.clip((t - 0.15) / 0.2, 0, 1)
        return v, neck + (w - neck) * (3 * shoulder ** 2 - 2 * shoulder ** 3) + np.where(t < 0.03, neck * 0.15, 0)
    return v, w * (0.5 + 0.5 * np.sin(np.pi * (0.15 + 0.85 * t)) ** 2)     # a vase


def _outline(v, r) -> np.ndarray:
    return np.vstack([np.stack([-r, v], 1), np.stack([r, v], 1)[::-1]])


def _glass(d: _Drawing, f: _Frame, back) -> None:
    """A glass vessel: clear body (opacity rising towards its sides), opaque edges and rim, a
    highlight, sometimes a drink."""
    rng, s = d.rng, f.s
    kind = _pick(rng, ("tumbler", "wine", "bottle", "vase"))
    v, r = _profile(kind, s, rng)
    clear, rim = rng.uniform(0.18, 0.35), rng.uniform(0.5, 0.65)
    tint = _colour(rng, "pastel" if rng.random() < 0.6 else "white")

    def opacity(window):
        u, height = f.uv(d.size, window)
        return clear + (rim - clear) * np.clip(np.abs(u) / np.maximum(np.interp(height, v, r), 1), 0, 1) ** 3
    d.fill(f, _outline(v, r), d.material(_shade(d, f, tint, light=0.2), opacity))
    if kind != "vase" and rng.random() < 0.4:       # a drink
        t = (v + s / 2) / s
        level, floor = (rng.uniform(0.1, 0.35), 0.5) if kind == "wine" else (rng.uniform(0.25, 0.6), 0.96)
        inside = (t > level) & (t < floor)
        drink = d.material(_shade(d, f, _colour(rng, "vivid")), rng.uniform(0.55, 0.9))
        d.fill(f, _outline(v[inside], np.maximum(r[inside] - 2, 0.5)), drink)
    lines = d.material(_shade(d, f, tint * rng.uniform(0.4, 0.9)), rng.uniform(0.75, 1))
    for side in (-1, 1):
        d.stroke(f, np.stack([side * r, v], 1), rng.uniform(0.8, 2), lines)
    d.stroke(f, _closed(_ellipse(0, v[0], r[0], r[0] * rng.uniform(0.06, 0.2))), rng.uniform(1, 2.2), lines)
    band = slice(int(len(v) * 0.15), int(len(v) * (0.45 if kind == "wine" else 0.8)))
    highlight = np.vstack([np.stack([-0.62 * r[band], v[band]], 1), np.stack([-0.5 * r[band], v[band]], 1)[::-1]])
    d.fill(f, highlight, d.material(np.float32(250), rng.uniform(0.7, 1)))


def _box(d: _Drawing, f: _Frame, base) -> None:
    """A box seen from above one side: front, top and side faces, maybe a label with lines of text."""
    rng, s = d.rng, f.s
    width, height = s * rng.uniform(0.45, 0.9), s * rng.uniform(0.5, 0.8)
    dx, dy = s * rng.uniform(0.1, 0.3) * _pick(rng, (-1, 1)), -s * rng.uniform(0.06, 0.2)
    left, top, right, bottom = -(width + dx) / 2, -(height + dy) / 2, (width - dx) / 2, (height - dy) / 2
    edge, texture = right if dx > 0 else left, rng.uniform(0, 0.2) * (rng.random() < 0.5)
    lid = [(left, top), (right, top), (right + dx, top + dy), (left + dx, top + dy)]
    side = [(edge, top), (edge + dx, top + dy), (edge + dx, bottom + dy), (edge, bottom)]
    for face, light in ((_rect(left, top, right, bottom), 1.0), (lid, 1.2), (side, 0.7)):
        d.fill(f, face, d.material(_shade(d, f, base * light, light=0.2, texture=texture)))
    if rng.random() < 0.5:
        inset = width * rng.uniform(0.1, 0.2)
        label = _paint(d, f, _pick(rng, ("white", "vivid")), light=0.1)
        d.fill(f, _rect(left + inset, top + height * 0.3, right - inset, bottom - height * 0.2), label)
        ink = _paint(d, f, "dark", light=0.1)
        for y in top + height * (0.36 + 0.1 * np.arange(rng.integers(1, 4))):
            d.fill(f, _rect(left + inset * 1.4, y, right - inset * rng.uniform(1.4, 3), y + height * 0.04), ink)


def _can(d: _Drawing, f: _Frame, base) -> None:
    """An upright cylinder: round-shaded body, lighter top, maybe a label band."""
    rng, s = d.rng, f.s
    r, height = s * rng.uniform(0.15, 0.32), s * rng.uniform(0.6, 0.9)
    ry = r * rng.uniform(0.1, 0.35)
    body = d.material(_shade(d, f, base, round_=r, gloss=rng.uniform(0.1, 0.6)))
    d.fill(f, np.vstack([[(-r, -height / 2), (r, -height / 2)], _ellipse(0, height / 2, r, ry, 33, 0, np.pi)]), body)
    d.fill(f, _ellipse(0, -height / 2, r, ry), d.material(_shade(d, f, base * 1.25, light=0.2)))
    if rng.random() < 0.6:
        low, high = np.sort(rng.uniform(-0.35, 0.4, 2)) * height
        band = np.vstack([_ellipse(0, low, r, ry, 33, 0, np.pi), _ellipse(0, high, r, ry, 33, 0, np.pi)[::-1]])
        d.fill(f, band, _paint(d, f, "vivid", round_=r, gloss=rng.uniform(0, 0.3)))


def _slab(d: _Drawing, f: _Frame, base) -> None:
    """A flat polygon or star, maybe bevelled."""
    rng, s = d.rng, f.s
    count = int(rng.integers(3, 9))
    angles, radii = np.sort(rng.uniform(0, 2 * np.pi, count)), s / 2 * rng.uniform(0.6, 1, count)
    if rng.random() < 0.3:      # a star: a point between each pair of corners, further in
        between = (angles + np.append(angles[1:], angles[0] + 2 * np.pi)) / 2
        angles, radii = np.stack([angles, between], 1).ravel(), np.stack([radii, radii * 0.45], 1).ravel()
    shape = np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)
    d.fill(f, shape, d.material(_shade(d, f, base, texture=rng.uniform(0, 0.3))))
    if rng.random() < 0.4:
        d.fill(f, shape * 0.8, d.material(_shade(d, f, base * 1.15, gloss=0.3)))


def _bottle(d: _Drawing, f: _Frame, base) -> None:
    """An opaque bottle with a cap and maybe a label."""
    rng, s = d.rng, f.s
    v, r = _profile("bottle", s, rng)
    d.fill(f, _outline(v, r), d.material(_shade(d, f, base, round_=r.max(), gloss=rng.uniform(0.2, 0.7))))
    d.fill(f, _rect(-r[0] * 1.1, -s * 0.52, r[0] * 1.1, -s * 0.42), _paint(d, f, "any", round_=r[0]))
    if rng.random() < 0.7:
        low, high = np.sort(rng.uniform(0.45, 0.9, 2)) * s - s / 2
        d.fill(f, _rect(-r.max(), low, r.max(), high), _paint(d, f, _pick(rng, ("white", "vivid")), round_=r.max()))


HARD = (_box, _can, _slab, _bottle)


def _away(rng, size, f: _Frame, s: float) -> _Frame:
    """A frame for an object of size `s` on the other side of the photo from `f`."""
    x = rng.uniform(0.06, 0.3) if f.x > size[0] / 2 else rng.uniform(0.7, 0.94)
    return _Frame(x * size[0], rng.uniform(0.25, 0.8) * size[1], rng.uniform(-0.5, 0.5), s)


def _hard(d: _Drawing, f: _Frame, back) -> None:
    """A hard object, a fifth of them in the background's own colour; sometimes a second one."""
    rng = d.rng
    if rng.random() < 0.35:
        _pick(rng, HARD)(d, _away(rng, d.size, f, rng.uniform(0.25, 0.5) * f.s), _colour(rng))
    if rng.random() < 0.25:
        x, y, half = int(np.clip(f.x, 0, d.size[0] - 1)), int(np.clip(f.y, 0, d.size[1] - 1)), max(int(f.s / 2), 1)
        base = back[max(y - half, 0):y + half, max(x - half, 0):x + half].mean((0, 1)) + rng.normal(0, 12, 3)
    else:
        base = _colour(rng, _pick(rng, ("vivid", "any", "white", "dark", "metal", "pastel")))
    _pick(rng, HARD)(d, f, np.clip(base, 10, 245))


def _multi(d: _Drawing, f: _Frame, back) -> None:
    """One or two small hard objects far from a subject of another category."""
    rng = d.rng
    for _ in range(rng.integers(1, 3)):
        _pick(rng, HARD)(d, _away(rng, d.size, f, rng.uniform(0.15, 0.35) * f.s), _colour(rng))
    _pick(rng, (_ring, _glass, _plant, _hard))(d, f, back)


# category: (draw, size range as a share of the photo's height, largest turn)
SUBJECTS = {"gen_mesh": (_mesh, (0.45, 1.1), np.pi), "gen_fence": (_fence, (0.35, 0.8), 0.2),
            "gen_ring": (_ring, (0.4, 0.9), np.pi), "gen_leaves": (_plant, (0.5, 0.95), 0.25),
            "gen_glass": (_glass, (0.5, 0.9), 0.2), "gen_hard": (_hard, (0.35, 0.85), 0.6),
            "gen_multi": (_multi, (0.4, 0.7), 0.3)}


def _placement(rng, size, category: str) -> _Frame:
    (width, height), (_, (low, high), turn) = size, SUBJECTS[category]
    s = rng.uniform(low, high) * height
    x, y = rng.uniform(0.3, 0.7) * width, rng.uniform(0.35, 0.65) * height
    if category == "gen_multi":
        x = _pick(rng, (0.3, 0.7)) * width
    elif rng.random() < 0.2:        # across a border: the centre 0.1-0.45 s inside it
        inside, side = rng.uniform(0.1, 0.45) * s, rng.integers(4)
        if side < 2:
            x = inside if side == 0 else width - inside
        else:
            y = inside if side == 2 else height - inside
    return _Frame(x, y, rng.uniform(-turn, turn), s)


def _generated_layers(name, category, kind, seed, size) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(foreground, uint8 truth, background) of a generated sample."""
    rng = _rng(seed, name)
    back = make_background(kind, size, rng)
    for _ in range(10):     # draw again a subject that came out too small or too big
        d = _Drawing(size, rng)
        SUBJECTS[category][0](d, _placement(rng, size, category), back)
        fore, alpha = d.render(rng.uniform(0.3, 0.9))
        truth = np.rint(alpha * 255).astype(np.uint8)
        if np.mean(truth > 25) >= 0.01 and np.mean(truth > 127) <= 0.7:
            break
    grain = rng.uniform(0, 2.5) * rng.standard_normal(back.shape, np.float32)
    return fore + grain, truth, back + grain


def _make_generated(name, category, kind, seed, size) -> tuple[Image.Image, np.ndarray]:
    fore, truth, back = _generated_layers(name, category, kind, seed, size)
    return composite(fore, truth, back), truth


def generated(count: int = 60, seed: int = SEED, size=(768, 576)) -> list[Sample]:
    """`count` drawn subjects on `size` (width, height) photos, categories and background kinds in turn."""
    samples, made = [], Counter()
    for index in range(count):
        category, kind = CATEGORIES[index % len(CATEGORIES)], GENERATED_KINDS[index % len(GENERATED_KINDS)]
        made[category] += 1
        subject, background = f"gen-{category[4:]}-{made[category]:02d}", f"{kind}-{index:02d}"
        make = functools.partial(_make_generated, f"{subject}.{background}", category, kind, seed, tuple(size))
        samples.append(Sample(f"{subject}.{background}", category, subject, background, "alpha", make))
    return samples


# --------------------------------------------------------------------------- devset composites

@functools.lru_cache(maxsize=2)
def _devset_subject(pair) -> tuple[np.ndarray, np.ndarray]:
    """(colour (H, W, 3) on [0, 255], truth) of a devset subject: blur fusion on soft mattes, the photo on binary ones."""
    from app.core.matting import foreground_planes

    image, truth = pair.load()
    photo = np.asarray(image, np.float32) / 255
    if pair.gt_type != "alpha":
        return photo * 255, truth
    alpha, planes = truth / np.float32(255), [np.ascontiguousarray(photo[..., c]) for c in range(3)]
    fore_hat, back_hat = foreground_planes(planes, alpha)
    fore = [np.clip(fh + alpha * (i - alpha * fh - (1 - alpha) * bh), 0, 1) for fh, bh, i in zip(fore_hat, back_hat, planes)]
    return np.stack(fore, axis=-1) * 255, truth


def _make_composite(pair, name, kind, seed) -> tuple[Image.Image, np.ndarray]:
    fore, truth = _devset_subject(pair)
    back = make_background(kind, (truth.shape[1], truth.shape[0]), _rng(seed, name))
    return composite(fore, truth, back), truth.copy()


def devset_composites(per_subject: int = 40, seed: int = SEED, devset=DEFAULT_DEVSET,
                      soft_only: bool = True) -> list[Sample]:
    """Each devset pair (soft mattes only with `soft_only`) on `per_subject` new backgrounds."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    from devset import load_pairs

    samples = []
    for pair in load_pairs(devset):
        for index in range(per_subject) if pair.gt_type == "alpha" or not soft_only else ():
            kind = KINDS[(index + zlib.crc32(pair.name.encode())) % len(KINDS)]
            name = f"{pair.name}.{kind}-{index:02d}"
            samples.append(Sample(name, f"comp_{pair.category}", pair.name, f"{kind}-{index:02d}", pair.gt_type,
                                  functools.partial(_make_composite, pair, name, kind, seed)))
    return samples


# --------------------------------------------------------------------------- contact sheet

def contact_sheet(samples: list[Sample], path: Path, thumb: int = 220, columns: int = 3) -> None:
    """Photo and truth side by side for each sample, `columns` samples a row, each named below."""
    cell_w, image_h = 2 * thumb + 12, thumb * 3 // 4
    sheet = Image.new("RGB", (columns * cell_w, -(-len(samples) // columns) * (image_h + 18)), (40, 40, 40))
    for index, sample in enumerate(samples):
        photo, truth = sample.make()
        left, top = index % columns * cell_w, index // columns * (image_h + 18)
        for offset, image in ((0, photo), (thumb + 2, Image.fromarray(truth).convert("RGB"))):
            image.thumbnail((thumb, image_h), Image.Resampling.LANCZOS)
            sheet.paste(image, (left + offset, top))
        ImageDraw.Draw(sheet).text((left + 2, top + image_h + 3), sample.name, fill=(230, 230, 230))
    sheet.save(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contact", type=Path, required=True, help="write the contact sheet (PNG) here")
    parser.add_argument("--generated", type=int, default=24, help="generated samples")
    parser.add_argument("--composites", type=int, default=2, help="devset composites per subject")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--size", default="768x576", help="generated photos' WIDTHxHEIGHT")
    parser.add_argument("--devset", type=Path, default=DEFAULT_DEVSET)
    parser.add_argument("--binary", action="store_true", help="composite the pairs with binary truth too")
    args = parser.parse_args(argv)
    samples = generated(args.generated, args.seed, tuple(int(n) for n in args.size.lower().split("x")))
    if args.composites:
        samples += devset_composites(args.composites, args.seed, args.devset, soft_only=not args.binary)
    start = time.perf_counter()
    contact_sheet(samples, args.contact)
    elapsed = time.perf_counter() - start
    for category, count in sorted(Counter(s.category for s in samples).items()):
        print(f"{category:<18}{count:>4}")
    print(f"{len(samples)} samples, {elapsed / max(len(samples), 1):.2f} s each (with the sheet) -> {args.contact}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
