"""The page's UI on the main thread. Runs on MicroPython (ready in well under a
second, so the page is usable while Pyodide boots in the worker): no NumPy, no
Pillow, no heavy work. `text` is pure and also runs under CPython for tests.
"""
