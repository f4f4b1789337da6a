"""Photo scale: the devset pairs enlarged to camera size, so the large-photo paths are measured.

The devset photos are 481 to 1120 px on their long side (all but one at most 800). At
that size `app.core.refine` solves the matte at 2/3 of the photo (321 to 747 px),
estimates the colours at that same working size, and carries the result up only 1.5x. A camera photo (12 MP, about 4000 x 3000)
takes other paths: the working resolution is capped at 1024 px (about a quarter of the
photo's side), the foreground/background colours are estimated at half of that
(`FOREGROUND_SIDE`), the guided-filter coefficients are carried up about 4x, and the
per-pixel compose runs on millions of edge pixels. Only a photo of that size exercises
them, and only known truth at that size measures them.

Method: each pair is enlarged to `megapixels` (default 12) with Pillow's Lanczos filter
(a = 3), the photo and its ground truth alike, so the truth stays known: the compositing
equation I = alpha F + (1 - alpha) B is linear, so where F and B are smooth over the
filter's reach the enlarged photo is (up to rounding and clipping) the composite of the
enlarged alpha. Soft mattes stay soft mattes. Binary (hand-drawn) masks are thresholded
at 128 after enlarging, so they stay 0/255 masks as at devset scale; the SOD metrics
threshold at 128 anyway, only plain MAE sees that choice. The model's mask is computed
from the enlarged photo (the model always sees 1024 x 1024, so it differs from the
devset-scale mask only by what resampling changes) and cached by content like the others.

Limits, read the photo-scale figures with them in mind:

- An enlarged photo is smoother than a camera photo. It has no detail finer than the
  original pixel, which now spans 4.6 (the 1120 px photo) to 8.8 (481 px photos)
  pixels: a one-pixel hair strand becomes a soft 5-9 px ribbon, and there is no sensor noise, no
  demosaicing or JPEG texture. The colour solve and the guided filter see clean, slow
  colour ramps, and the truth is just as smooth. So these figures measure the
  large-photo code paths with known truth; they do not measure how well real fine
  detail at 12 MP (strands 1-3 px wide) is resolved, and they may flatter any method
  that smooths.
- That holds for the raw reference too (the bilinear upscale of the 1024 mask is
  smooth, like the enlarged truth), so the comparison with raw is not tilted towards
  ours by the method; if anything raw may gain.
- Lanczos rings next to hard edges (a few levels); photo and alpha are clipped to their
  range alike, so the ringing is consistent between them, not a pipeline error.
- Compositing the known alphas over new backgrounds at full size was not chosen: the
  devset has no foreground colours at 12 MP, and using the pipeline's own foreground
  estimate would put the pipeline's colour model into the truth it is measured against.
- SAD and the gradient error are sums over pixels: at 12 MP SAD is about the pixel-count
  ratio (21-30x for the soft-alpha pairs) times its devset-scale value, and the gradient
  error (sigma 1.4 px, now small against the enlarged edges) grows too. Compare them
  within a scale; the targets are relative to raw at the same scale. Plain MAE and MSE
  are means, comparable across scales.

Imports: NumPy, Pillow.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

RESAMPLE = Image.Resampling.LANCZOS


def camera_size(size: tuple[int, int], megapixels: float) -> tuple[int, int]:
    """(width, height) of `size` scaled to about `megapixels`, same aspect ratio."""
    width, height = size
    scale = (megapixels * 1e6 / (width * height)) ** 0.5
    return round(width * scale), round(height * scale)


def enlarge(image: Image.Image, gt: np.ndarray, gt_type: str,
            megapixels: float = 12) -> tuple[Image.Image, np.ndarray]:
    """(photo, ground truth) enlarged to about `megapixels` with the same Lanczos filter;
    a binary ground truth is thresholded at 128 again."""
    size = camera_size(image.size, megapixels)
    photo = image.convert("RGB").resize(size, RESAMPLE)
    truth = np.asarray(Image.fromarray(gt, mode="L").resize(size, RESAMPLE))
    if gt_type != "alpha":
        truth = np.where(truth >= 128, 255, 0).astype(np.uint8)
    return photo, truth
