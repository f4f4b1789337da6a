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


class SodScores:
    """pysodmetrics accumulators for one group of images."""

    def __init__(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.mae, self.fm, self.wfm = sod.MAE(), sod.Fmeasure(), sod.WeightedFmeasure()
            self.sm, self.em = sod.Smeasure(), sod.Emeasure()
        self.count = 0

    def add(self, pred8: np.ndarray, gt8: np.ndarray) -> None:
        for metric in (self.mae, self.fm, self.wfm, self.sm, self.em):
            metric.step(pred=pred8, gt=gt8)
        self.count += 1

    def results(self) -> dict[str, float]:
        return {
            "MAE": float(self.mae.get_results()["mae"]),
            "maxF": float(self.fm.get_results()["fm"]["curve"].max()),
            "wF": float(self.wfm.get_results()["wfm"]),
            "S": float(self.sm.get_results()["sm"]),
            "E": float(self.em.get_results()["em"]["curve"].mean()),
        }
