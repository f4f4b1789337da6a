"""Quality metrics for cutouts against ground truth.

SOD metrics come from `pysodmetrics` (it thresholds the ground truth at 128); the
matting metrics follow the alpha-matting literature (Rhemann et al., CVPR 2009),
computed over the whole image because we have no trimap:

    plain MAE   mean |pred - gt| on [0, 1] alpha, against the unthresholded matte
    SAD         sum |pred - gt| on [0, 1] alpha, / 1000
    MSE         mean (pred - gt)^2 on [0, 1] alpha, reported x 1000
    Grad        sum (|∇pred| - |∇gt|)^2 on [0, 1] alpha, / 1000; the gradients come from
                the benchmarks' `gaussgradient` (Gaussian derivative, sigma 1.4, 9x9
                kernel scaled to unit L2 norm, replicated borders), as in the
                Deep Image Matting evaluation code

Imports: NumPy, SciPy, pysodmetrics (bench only; never in `app.core`).
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy import ndimage

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import py_sod_metrics as sod

SOD_KEYS = ("MAE", "maxF", "wF", "S", "E")
MATTE_KEYS = ("pMAE", "SAD", "MSE", "Grad")


def _gauss_derivative_factors(sigma: float, epsilon: float = 1e-2) -> tuple[np.ndarray, np.ndarray]:
    """(smoothing, derivative) 1-D factors of the x-derivative kernel of `gaussgradient.m`:
    their outer product is that (size, size) kernel scaled to unit L2 norm."""
    half = int(np.ceil(sigma * np.sqrt(-2 * np.log(np.sqrt(2 * np.pi) * sigma * epsilon))))
    u = np.arange(-half, half + 1, dtype=np.float64)
    gauss = np.exp(-(u**2) / (2 * sigma**2)) / (sigma * np.sqrt(2 * np.pi))
    dgauss = -u * gauss / sigma**2
    root = np.sqrt(np.linalg.norm(gauss) * np.linalg.norm(dgauss))    # sqrt of the outer product's norm
    return gauss / root, dgauss / root


def gradient_magnitude(alpha: np.ndarray, sigma: float = 1.4) -> np.ndarray:
    """|∇alpha| as the matting benchmarks compute it (the 2-D kernel applied as its two
    1-D factors: the same values up to float rounding, fast enough for 12 MP mattes)."""
    alpha = alpha.astype(np.float64)
    smooth, derive = _gauss_derivative_factors(sigma)
    gx = ndimage.convolve1d(ndimage.convolve1d(alpha, derive, axis=1, mode="nearest"),
                            smooth, axis=0, mode="nearest")
    gy = ndimage.convolve1d(ndimage.convolve1d(alpha, derive, axis=0, mode="nearest"),
                            smooth, axis=1, mode="nearest")
    return np.hypot(gx, gy)


def plain_mae(pred8: np.ndarray, gt8: np.ndarray) -> float:
    """Mean |pred - gt| of a uint8 alpha against uint8 ground truth, on [0, 1]."""
    return float(np.abs(pred8.astype(np.float64) - gt8.astype(np.float64)).mean() / 255.0)


def matte_errors(pred8: np.ndarray, gt8: np.ndarray, gt_gradient: np.ndarray | None = None) -> dict[str, float]:
    """Plain MAE, SAD, MSE (x1000) and gradient error of a uint8 alpha against a uint8 matte
    (`gt_gradient`: `gradient_magnitude(gt8 / 255)`, when the caller already has it)."""
    pred = pred8.astype(np.float64) / 255.0
    gt = gt8.astype(np.float64) / 255.0
    diff = pred - gt
    if gt_gradient is None:
        gt_gradient = gradient_magnitude(gt)
    grad = (gradient_magnitude(pred) - gt_gradient) ** 2
    return {
        "pMAE": float(np.abs(diff).mean()),
        "SAD": float(np.abs(diff).sum() / 1000.0),
        "MSE": float((diff**2).mean() * 1000.0),
        "Grad": float(grad.sum() / 1000.0),
    }


def sod_image(pred8: np.ndarray, gt8: np.ndarray) -> dict:
    """One image's SOD scores: MAE, weighted F and S, and its F and E curves over the 256
    thresholds (pysodmetrics averages each over images; max F and mean E come from the
    averaged curves), so an image is scored once however many groups it counts in."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mae, fm, wfm = sod.MAE(), sod.Fmeasure(), sod.WeightedFmeasure()
        sm, em = sod.Smeasure(), sod.Emeasure()
    for metric in (mae, fm, wfm, sm, em):
        metric.step(pred=pred8, gt=gt8)
    return {
        "MAE": float(mae.get_results()["mae"]),
        "F": np.asarray(fm.get_results()["fm"]["curve"], np.float64),
        "wF": float(wfm.get_results()["wfm"]),
        "S": float(sm.get_results()["sm"]),
        "E": np.asarray(em.get_results()["em"]["curve"], np.float64),
    }


class SodScores:
    """The SOD metrics of one group of images, as pysodmetrics aggregates them."""

    def __init__(self):
        self.images: list[dict] = []

    @property
    def count(self) -> int:
        return len(self.images)

    def add(self, pred8: np.ndarray, gt8: np.ndarray) -> None:
        self.images.append(sod_image(pred8, gt8))

    def add_scored(self, scores: dict) -> None:
        """Add an image already scored by `sod_image`."""
        self.images.append(scores)

    def results(self) -> dict[str, float]:
        mean = {key: np.mean([image[key] for image in self.images], axis=0)
                for key in ("MAE", "F", "wF", "S", "E")}
        return {
            "MAE": float(mean["MAE"]),
            "maxF": float(mean["F"].max()),
            "wF": float(mean["wF"]),
            "S": float(mean["S"]),
            "E": float(mean["E"].mean()),
        }
