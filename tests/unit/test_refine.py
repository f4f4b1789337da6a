"""Edge refinement, decontamination and the full-resolution pass, on synthetic scenes
with known answers: a soft-edged disc of known colour composited on a known background.
"""
import numpy as np
import pytest
from PIL import Image

from app.core import matting, refine
from app.core.options import Options
from app.core.postprocess import compose_rgba, upscale_mask
from tests.helpers import FORE, composite, disc_alpha

def to_image(pixels):
    return Image.fromarray((np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8), mode="RGB")


def model_guess(alpha, radius=None):
    """What a model gives: a too-wide (by 2 pixels), too-smooth edge of the disc of
    `radius` (default: the tests' usual 0.3 of the image) centred in `alpha`."""
    size = alpha.shape
    return disc_alpha(size, (radius or size[0] * 0.3) + 2, 14)


def test_solve_alpha_recovers_a_soft_edge_better_than_the_model():
    """In the band the colour solution is close to the true alpha (MAE < 0.02) and
    much closer than the model's guess."""
    truth = disc_alpha((160, 160), 48, 6)
    image = composite(truth)
    guess = model_guess(truth)
    fg, bg, band = matting.trimap(guess)
    solved = matting.solve_alpha(image, guess, fg, bg, band)
    edge = (truth > 0) & (truth < 1)
    assert band[edge].mean() > 0.95                     # the band covers the true edge
    error = np.abs(solved - truth)[band].mean()
    assert error < 0.02
    assert error < 0.25 * np.abs(guess - truth)[band].mean()


def test_solve_alpha_trusts_the_model_where_colours_do_not_fit():
    """On a textured background (noise unrelated to F/B) alpha stays near the model's."""
    rng = np.random.default_rng(0)
    truth = disc_alpha((160, 160), 48, 6)
    back = rng.random((160, 160, 3)).astype(np.float32)
    image = composite(truth, back)
    guess = model_guess(truth)
    fg, bg, band = matting.trimap(guess)
    solved = matting.solve_alpha(image, guess, fg, bg, band)
    assert np.abs(solved - truth)[band].mean() < np.abs(guess - truth)[band].mean() + 0.02


def test_foreground_estimates_recover_the_true_colour_in_partial_pixels():
    """F = F^ + a (I - a F^ - (1 - a) B^) is within 0.05 of the true foreground colour
    where 0.1 < alpha < 0.9 (the raw photo there is up to 0.4 away)."""
    truth = disc_alpha((160, 160), 48, 8)
    image = composite(truth)
    fore_hat, back_hat = matting.foreground_estimates(image, truth)
    a = truth[..., None]
    fore = np.clip(fore_hat + a * (image - a * fore_hat - (1 - a) * back_hat), 0, 1)
    partial = (truth > 0.1) & (truth < 0.9)
    assert np.abs(fore[partial] - FORE).max() < 0.05
    assert np.abs(image[partial] - FORE).max() > 0.3


@pytest.mark.parametrize("background", [(1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (0.0, 0.8, 0.1)])
def test_refine_gives_alpha_and_colour_close_to_the_truth(background):
    """End to end on a 200x200 photo: alpha within 0.03 (mean) of the truth on the
    edge, decontaminated colour within 8/255 (mean; 20/255 at worst) of the subject's; composited on a new
    background the edge has no trace of the old one."""
    truth = disc_alpha((200, 200), 60, 6)
    photo = to_image(composite(truth))
    mask = np.asarray(Image.fromarray(model_guess(truth), "F").resize((64, 64), Image.Resampling.BILINEAR))
    rgba = np.asarray(refine.refine(photo, mask, Options()), np.float32) / 255
    alpha, colour = rgba[..., 3], rgba[..., :3]
    edge = (truth > 0) & (truth < 1)
    assert np.abs(alpha - truth)[edge].mean() < 0.03
    partial = (alpha > 0.15) & (alpha < 0.85)
    assert partial.sum() > 100
    # Mean within 8/255, worst pixel within 20/255: since the photo is solved at 2/3 of
    # its size, alpha at full size comes from the guided coefficients and is off by a
    # few hundredths in places, which the colour estimate amplifies.
    assert np.abs(colour[partial] - FORE).max(-1).mean() < 8 / 255
    assert np.abs(colour[partial] - FORE).max() < 20 / 255
    new = np.asarray(background, np.float32)
    ideal = composite(truth, new)
    ours = alpha[..., None] * colour + (1 - alpha[..., None]) * new
    assert np.abs(ours - ideal)[edge].mean() < 0.03


def test_reference_options_reproduce_the_plain_upscale():
    """Everything off gives exactly the reference: bilinear upscale, photo's RGB."""
    rng = np.random.default_rng(3)
    photo = to_image(rng.random((30, 40, 3)))
    mask = rng.random((16, 16)).astype(np.float32)
    off = Options(refine_edges=False, decontaminate=False, remove_specks=False)
    ours = refine.refine(photo, mask, off)
    assert ours.tobytes() == compose_rgba(photo, upscale_mask(mask, photo.size)).tobytes()


def test_decontamination_off_keeps_the_photo_colours():
    """decontaminate=False: RGB is exactly the photo's wherever the cutout shows anything,
    and black where it is fully transparent."""
    truth = disc_alpha((120, 120), 35, 6)
    photo = to_image(composite(truth))
    out = np.asarray(refine.refine(photo, truth, Options(decontaminate=False)))
    shown = out[..., 3] > 0
    assert shown.any() and (~shown).any()
    np.testing.assert_array_equal(out[shown][:, :3], np.asarray(photo)[shown])
    assert not out[~shown][:, :3].any()


def test_opaque_pixels_keep_the_photo_colour():
    """Where alpha is 1 the decontaminated colour is the photo's, texture included."""
    rng = np.random.default_rng(5)
    truth = disc_alpha((120, 120), 35, 6)
    pixels = composite(truth) + rng.normal(0, 0.03, (120, 120, 3)).astype(np.float32)
    photo = to_image(pixels)
    out = np.asarray(refine.refine(photo, truth, Options()))
    opaque = out[..., 3] == 255
    assert np.abs(out[opaque][:, :3].astype(int) - np.asarray(photo)[opaque].astype(int)).max() <= 1


def test_large_photo_goes_through_chunks_and_matches_a_small_one(monkeypatch):
    """A photo above the working resolution is refined at the working size and carried
    to full size chunk by chunk of edge pixels: same picture as refining the small photo, upscaled,
    but with a sharper edge (the guided coefficients follow the full-res photo)."""
    monkeypatch.setattr(refine, "WORK_SIDE", 128)
    monkeypatch.setattr(refine, "CHUNK", 1000)
    truth = disc_alpha((384, 384), 110, 3)
    photo = to_image(composite(truth))
    mask = np.asarray(Image.fromarray(model_guess(truth, 110), "F").resize((64, 64), Image.Resampling.BILINEAR))
    out = np.asarray(refine.refine(photo, mask, Options()), np.float32) / 255
    assert out.shape == (384, 384, 4)
    alpha = out[..., 3]
    edge = (truth > 0) & (truth < 1)
    plain = np.asarray(Image.fromarray(truth, "F").resize((128, 128), Image.Resampling.BOX)
                       .resize((384, 384), Image.Resampling.BILINEAR))
    assert np.abs(alpha - truth)[edge].mean() < 0.1
    assert np.abs(alpha - truth).mean() < 0.7 * np.abs(plain - truth).mean()


@pytest.mark.parametrize("shift", [-3.0, 3.0])
def test_shift_edge_moves_the_edge_by_that_many_pixels(shift):
    """shift_edge grows (+) or shrinks (-) a hard disc's radius by about |shift| pixels."""
    truth = disc_alpha((160, 160), 50, 1)
    photo = to_image(composite(truth))
    base = Options(refine_edges=False, decontaminate=False)
    area0 = (np.asarray(refine.refine(photo, truth, base))[..., 3] > 127).sum()
    area1 = (np.asarray(refine.refine(photo, truth, Options(refine_edges=False, decontaminate=False,
                                                         shift_edge=shift)))[..., 3] > 127).sum()
    moved = np.sqrt(area1 / np.pi) - np.sqrt(area0 / np.pi)
    assert abs(moved - shift) < 1.0


def test_feather_widens_the_edge():
    """feather=6 spreads a hard edge over roughly 2 x 6 pixels, keeping its position."""
    truth = disc_alpha((160, 160), 50, 1)
    photo = to_image(composite(truth))
    hard = np.asarray(refine.refine(photo, truth, Options(refine_edges=False)))[..., 3]
    soft = np.asarray(refine.refine(photo, truth, Options(refine_edges=False, feather=6)))[..., 3]
    partial = lambda a: ((a > 12) & (a < 243)).sum()
    assert partial(soft) > 4 * partial(hard)
    assert abs(int((soft > 127).sum()) - int((hard > 127).sum())) < 0.03 * (hard > 127).sum()


def test_stage_timings_are_reported():
    """refine fills a timings dict with every stage it ran."""
    truth = disc_alpha((64, 64), 20, 4)
    timings = {}
    refine.refine(to_image(composite(truth)), truth, Options(), timings)
    assert {"prepare", "cleanup", "matte", "foreground", "compose"} <= set(timings)
    assert all(value >= 0 for value in timings.values())


# A sequence of edge-setting changes: each reuses what it can of the one before.
RESTYLES = [Options(), Options(feather=3), Options(feather=3, shift_edge=-1.5),
            Options(feather=3, shift_edge=-1.5, decontaminate=False), Options(feather=3, shift_edge=-1.5),
            Options(), Options(decontaminate=False), Options(remove_specks=False),
            Options(refine_edges=False, feather=2), Options(keep_main_subject=True), Options()]


def test_reuse_gives_exactly_what_a_fresh_refine_gives(monkeypatch):
    """Refining one photo again and again with one Reuse (what a change of edge settings
    does) gives, at every step, the very bytes of a refine from scratch; the photo is
    larger than the working resolution, so the guided coefficients and the half-size
    colour estimates are both exercised."""
    monkeypatch.setattr(refine, "WORK_SIDE", 96)
    monkeypatch.setattr(refine, "FOREGROUND_SIDE", 64)
    truth = disc_alpha((200, 180), 55, 5)
    photo = to_image(composite(truth))
    mask = np.asarray(Image.fromarray(model_guess(truth), "F").resize((64, 64), Image.Resampling.BILINEAR))
    reuse = refine.Reuse()
    for options in RESTYLES:
        again = refine.refine(photo, mask, options, reuse=reuse)
        assert again.tobytes() == refine.refine(photo, mask, options).tobytes(), options


def test_reuse_skips_the_matte_when_only_the_edge_or_colour_settings_change(monkeypatch):
    """With a Reuse, feather, shift_edge and decontaminate changes run no matte, no
    cleanup and no second colour estimate for a setting seen before; a clean-up or
    refinement change, or another photo, solves the matte again."""
    truth = disc_alpha((120, 120), 35, 5)
    photo = to_image(composite(truth))
    calls = {"matte": 0, "foreground": 0}
    for module, name, key in ((refine.matting, "matte", "matte"),
                              (refine.matting, "foreground_planes", "foreground")):
        original = getattr(module, name)

        def counted(*args, _original=original, _key=key, **kwargs):
            calls[_key] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
    reuse = refine.Reuse()
    timings = {}
    for options in (Options(), Options(feather=2), Options(feather=2, shift_edge=1),
                    Options(feather=2, shift_edge=1, decontaminate=False), Options(feather=2, shift_edge=1)):
        refine.refine(photo, truth, options, timings, reuse)
    assert calls == {"matte": 1, "foreground": 3}
    assert "prepare" in timings                      # stages that ran are still timed
    refine.refine(photo, truth, Options(remove_specks=False), reuse=reuse)
    assert calls["matte"] == 2
    other = to_image(composite(truth)[::-1].copy())
    refine.refine(other, truth, Options(remove_specks=False), reuse=reuse)
    assert calls["matte"] == 3


def test_reused_results_are_read_only():
    """What a Reuse keeps cannot be changed in place by a later stage."""
    truth = disc_alpha((64, 64), 20, 4)
    reuse = refine.Reuse()
    refine.refine(to_image(composite(truth)), truth, Options(feather=1), reuse=reuse)
    size, work, alpha, coefficients = reuse.get("matte", (True, False, True))
    with pytest.raises(ValueError):
        alpha[0, 0] = 0.5
    with pytest.raises(ValueError):
        work[0][0, 0] = 0.5


def test_sampler_matches_a_pillow_bilinear_upscale_and_block_blur():
    """Sampler's taps at chosen pixels equal a whole-image Pillow bilinear resize
    (grid -> image) and `blur`'s block means, away from the border clamp."""
    rng = np.random.default_rng(7)
    grid = rng.random((12, 17)).astype(np.float32)
    whole = np.asarray(Image.fromarray(grid, "F").resize((51, 36), Image.Resampling.BILINEAR))
    rows, cols = np.nonzero(np.ones((36, 51), bool))
    sampled = matting.Sampler(rows, cols, grid.shape, 3.0, 3.0)(grid).reshape(36, 51)
    np.testing.assert_allclose(sampled[2:-2, 2:-2], whole[2:-2, 2:-2], atol=1e-5)
    values = rng.random((64, 80)).astype(np.float32)
    means = matting.block_means(values, 8)
    rows, cols = np.nonzero(np.ones(values.shape, bool))
    from app.core.filters import blur
    np.testing.assert_allclose(matting.Sampler(rows, cols, means.shape, 8, 8)(means).reshape(values.shape)[8:-8, 8:-8],
                               blur(values, 8)[8:-8, 8:-8], atol=1e-5)


def test_crisp_clears_haze_and_doubt_and_keeps_the_middle():
    """The model's faint haze (< 0.1) becomes 0, its doubt (> 0.9) 1, 0.5 stays 0.5."""
    values = np.array([0.0, 0.02, 0.1, 0.5, 0.9, 0.97, 1.0], np.float32)
    np.testing.assert_allclose(matting.crisp(values), [0, 0, 0, 0.5, 1, 1, 1], atol=1e-6)


def test_matte_softens_where_colours_explain_the_edge_and_stays_crisp_on_clutter():
    """On a clean two-colour scene the matte follows the true soft edge (better than the
    model); on a cluttered background (noise) it keeps the crisp model edge, with no
    grey rim around the subject."""
    truth = disc_alpha((160, 160), 48, 6)
    guess = model_guess(truth)
    a, b = matting.matte(composite(truth), guess)
    clean = matting.apply_coefficients(composite(truth), a, b)
    edge = (truth > 0) & (truth < 1)
    assert np.abs(clean - truth)[edge].mean() < 0.5 * np.abs(guess - truth)[edge].mean()
    rng = np.random.default_rng(2)
    clutter = composite(truth, rng.random((160, 160, 3)).astype(np.float32))
    a, b = matting.matte(clutter, guess)
    kept = matting.apply_coefficients(clutter, a, b)
    outside = truth == 0
    rim = outside & (guess < 0.1)
    assert kept[rim].mean() < 0.01 and kept[rim].max() < 0.1         # no rim in the background
    edge_band = (guess > 0.05) & (guess < 0.95)
    crisp_error = np.abs(matting.crisp(guess) - truth)[edge_band].mean()
    assert np.abs(kept - truth)[edge_band].mean() < crisp_error + 0.01


def test_full_resolution_pass_only_touches_pixels_of_the_soft_edge(monkeypatch):
    """Above the working size, only the soft edge is recomputed: away from it alpha is
    0 or 255 and RGB exactly the photo's (black where alpha is 0); opaque pixels keep
    the photo's colour."""
    monkeypatch.setattr(refine, "WORK_SIDE", 96)
    truth = disc_alpha((288, 288), 80, 4)
    rng = np.random.default_rng(4)
    photo = to_image(composite(truth) + rng.normal(0, 0.02, (288, 288, 3)).astype(np.float32))
    mask = np.asarray(Image.fromarray(model_guess(truth, 80), "F").resize((64, 64), Image.Resampling.BILINEAR))
    out = np.asarray(refine.refine(photo, mask, Options()))
    alpha = out[..., 3]
    y, x = np.mgrid[:288, :288] + 0.5
    far = np.abs(np.hypot(y - 144, x - 144) - 80) > 40
    assert set(np.unique(alpha[far])) <= {0, 255}
    expected = np.where((alpha[far] == 255)[:, None], np.asarray(photo)[far], 0)
    np.testing.assert_array_equal(out[far][:, :3], expected)
    opaque = alpha == 255
    assert np.abs(out[opaque][:, :3].astype(int) - np.asarray(photo)[opaque].astype(int)).max() <= 1


def test_the_full_resolution_cutout_is_made_without_a_second_full_size_copy(monkeypatch):
    """The full-resolution pass writes straight into its one (H, W, 4) array, a strip of
    rows at a time: besides it, never more than a fraction of its size (in the browser the
    worker's memory keeps its high-water mark). NumPy's and Python's allocations are
    traced; Pillow's strips are smaller still."""
    import tracemalloc

    monkeypatch.setattr(refine, "WORK_SIDE", 256)
    monkeypatch.setattr(refine, "CHUNK", 1 << 16)
    height, width = 900, 1200
    truth = disc_alpha((height, width), 300, 3)
    photo = to_image(composite(truth))
    mask = np.asarray(Image.fromarray(model_guess(truth, 300), "F").resize((64, 64), Image.Resampling.BILINEAR))
    compose, peaks = refine._compose, []

    def traced(*args):
        tracemalloc.start()
        try:
            return compose(*args)
        finally:
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()

    monkeypatch.setattr(refine, "_compose", traced)
    out = refine.refine(photo, mask, Options())
    assert out.size == (width, height) and peaks
    assert peaks[0] < 1.6 * height * width * 4          # 1.45x here; 2.85x with a copy of it


def test_a_mesh_the_model_is_sure_of_stays_opaque():
    """A mesh of 3-pixel wires over a plain background of another colour, every wire sure
    in the model's mask: the cutout keeps the wires opaque (a structure thinner than the
    sure region's margin is its own colour sample, not faded by colours from far off)
    and the holes clear."""
    y, x = np.mgrid[:450, :600] + 0.5
    wires = ((x + 0.3 * y) % 16 < 3) | ((y - 0.2 * x) % 16 < 3)
    pixels = np.where(wires[..., None], (0.72, 0.72, 0.7), (0.8, 0.3, 0.4)).astype(np.float32)
    mask = np.asarray(Image.fromarray(wires.astype(np.float32), "F").resize((1024, 1024), Image.Resampling.BILINEAR))
    alpha = np.asarray(refine.refine(to_image(pixels), np.clip(mask, 0, 1), Options()).getchannel("A")) / 255
    core = wires & ~(np.roll(wires, 1, 0) ^ wires) & ~(np.roll(wires, 1, 1) ^ wires)   # not at a wire's side
    assert alpha[core].mean() > 0.9, alpha[core].mean()
    holes = ~wires & ~(np.roll(wires, 1, 0) | np.roll(wires, -1, 0) | np.roll(wires, 1, 1) | np.roll(wires, -1, 1))
    assert alpha[holes].mean() < 0.1, alpha[holes].mean()
