"""Cutout: background removal that runs on the user's own device.

`app.core` is the pure NumPy/Pillow pipeline, `app.runtime` holds the inference
back-ends (ONNX Runtime Web in the browser, onnxruntime under CPython),
`app.worker` is the browser worker's API and `app.ui` the page's main-thread UI.
"""
