"""The page's words and numbers (app/ui/text.py, which runs on MicroPython in the page)."""
import pytest

from app.core.export import filename
from app.ui import text


@pytest.mark.parametrize(
    "name, expected",
    [
        ("holiday.JPG", "holiday-cutout.png"),
        ("my.summer.photo.jpeg", "my.summer.photo-cutout.png"),
        ("C:\\Users\\me\\cat.webp", "cat-cutout.png"),
        ("folder/dog.png", "dog-cutout.png"),
        ("no-extension", "no-extension-cutout.png"),
        (".hidden", ".hidden-cutout.png"),
        ("", "image-cutout.png"),
        ("   .png", "image-cutout.png"),
    ],
)
def test_cutout_filename_is_the_stem_plus_cutout_png(name, expected):
    """Download names are `<original stem>-cutout.png`, whatever the photo was called
    (the page's names come from the worker: app.core.export.filename)."""
    assert filename(name, "png") == expected


@pytest.mark.parametrize(
    "count, expected",
    [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (44_342_436, "44.3 MB"), (88_188_479, "88.2 MB"),
     (3_200_000_000, "3.2 GB"), (5_000_000_000_000, "5000.0 GB")],
)
def test_format_bytes(count, expected):
    """Sizes are shown in decimal units with one decimal."""
    assert text.format_bytes(count) == expected


def test_download_progress_names_bytes_and_percent():
    """Model download progress shows received and total bytes and the percentage."""
    line = text.describe_progress({"stage": "fetch:model", "received": 22_171_218, "total": 44_342_436})
    assert line == "Downloading the model: 22.2 MB of 44.3 MB (50%)"


def test_stage_progress_uses_the_stage_label():
    """Each pipeline stage has words for people; idle says nothing; unknown stages pass through."""
    assert text.describe_progress({"stage": "inference"}) == "Finding the subject…"
    assert text.describe_progress({"stage": "inference"}, 6.6) == (
        "Finding the subject… (about 7 s on this device last time)")
    assert text.describe_progress({"stage": "inference"}, 0.2) == (
        "Finding the subject… (about 1 s on this device last time)")
    assert text.describe_progress({"stage": "postprocess"}, 6.6) == "Refining the edges at full resolution…"
    assert text.describe_progress({"stage": "postprocess"}) == "Refining the edges at full resolution…"
    assert text.describe_progress({"stage": ""}) == ""
    assert text.describe_progress({"stage": "warp"}) == "warp…"


def test_every_pipeline_stage_has_a_label():
    """No stage of the pipeline shows its internal name, and the page's progress bar
    counts exactly the pipeline's stages (the MicroPython UI cannot import the core)."""
    from app.core.pipeline import STAGES

    assert set(STAGES) <= set(text.STAGE_LABELS)
    assert text.PHOTO_STAGES == STAGES


def test_timings_line_lists_stages_in_pipeline_order():
    """The details line gives the total and each stage rounded to 0.1 s, in order."""
    line = text.describe_timings(
        {"inference": 3.84, "decode": 0.04, "total": 4.46, "postprocess": 0.31, "preprocess": 0.2, "encode": 1.17}
    )
    assert line == "Done in 4.5 s: decode 0.0 s, pre-process 0.2 s, inference 3.8 s, post-process 0.3 s, PNG 1.2 s"


def test_backend_line_explains_single_thread():
    """The engine line says how many threads run, and why only one without isolation."""
    assert text.describe_backend({"label": "ISNet, 8-bit (44 MB)", "threads": 2, "isolated": True}) == (
        "ISNet, 8-bit (44 MB) · WebAssembly, 2 threads"
    )
    single = text.describe_backend({"label": "X", "threads": 1, "isolated": False})
    assert single == "X · WebAssembly, 1 thread (single-threaded: this page is not cross-origin isolated)"


def test_engine_line_names_webgpu_and_says_why_it_is_not_used():
    assert text.describe_backend({"label": "X", "backend": "webgpu", "f16": True}) == "X · WebGPU, 16-bit"
    assert text.describe_backend({"label": "X", "backend": "webgpu", "f16": False}) == "X · WebGPU, 32-bit"
    line = text.describe_backend({"label": "X", "backend": "wasm", "threads": 2, "isolated": True,
                                  "note": "this browser has no WebGPU"})
    assert line == "X · WebAssembly, 2 threads. Not on WebGPU: this browser has no WebGPU."


@pytest.mark.parametrize("search, name, expected", [
    ("?model=isnet-fp16", "model", "isnet-fp16"), ("?model=a&backend=wasm", "backend", "wasm"),
    ("?backend=webgpu&model=b", "model", "b"), ("", "model", ""), ("?modelx=1", "model", ""),
    ("?backend", "backend", ""),
])
def test_query_value(search, name, expected):
    assert text.query_value(search, name) == expected


@pytest.mark.parametrize("value, expected", [(0, "0 px"), (0.0, "0 px"), (1.5, "+1.5 px"), (-2, "-2 px"), (10.0, "+10 px")])
def test_slider_readout(value, expected):
    """Edge sliders read out signed pixels without a useless `.0`."""
    assert text.format_pixels(value) == expected


def test_boot_messages_are_in_plain_words():
    """PyScript's start-up messages become plain stages; unknown ones a general line."""
    assert text.boot_label("Loading JS modules") == "Loading the inference engine"
    assert text.boot_label("Loaded Storage") == "Starting Python in the background"
    assert text.boot_label("Something new") == "Starting the engine"


@pytest.mark.parametrize(
    "kind, error, name, expected",
    [
        ("model", "could not download http://x/models/m.onnx: HTTP 503", "",
         "The model could not be loaded: could not download http://x/models/m.onnx: HTTP 503. "
         "Try again: choose a photo, or reload the page."),
        ("model", "m.onnx is damaged.", "cat.jpg",
         "The model could not be loaded: m.onnx is damaged. Try again: choose a photo, or reload the page."),
        ("input", "The file is empty.", "empty.png", "empty.png: The file is empty."),
        ("internal", "MemoryError: out of memory", "", "MemoryError: out of memory"),
    ],
)
def test_failure_lines(kind, error, name, expected):
    """A model that could not be loaded is named as such, with what to do next, whatever
    photo asked for it; other failures are prefixed by the photo's name."""
    assert text.failure(kind, error, name) == expected


def test_boot_line_adds_the_early_download_to_the_stage():
    assert text.boot_line("Starting Python in the background") == "Starting Python in the background…"
    assert text.boot_line("Unpacking the app", (12_300_000, 44_500_000)) == (
        "Unpacking the app… · model 12.3 MB of 44.5 MB")
    assert text.boot_line("Unpacking the app", (44_500_000, 44_500_000)) == (
        "Unpacking the app… · model on this device")


def test_default_model_option_names_the_model():
    assert text.default_model_option("ISNet, 8-bit (45 MB)") == "Default: ISNet, 8-bit (45 MB)"


def test_done_line_adds_the_photo_notes():
    """`Done.`, then the worker's note about the photo, then the page's own; empty ones left out."""
    assert text.done_line() == "Done."
    assert text.done_line("", "") == "Done."
    assert (text.done_line("Animated image: the first frame was used.", "Took the first of 2 files.")
            == "Done. Animated image: the first frame was used. Took the first of 2 files.")
