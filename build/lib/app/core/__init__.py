"""The pure pipeline: NumPy and Pillow only.

Never imports `js`, `pyodide` or `pyscript`: the same code runs in the browser's
Pyodide worker and under CPython (tests, command line, reference results).
"""
