"""The build's jobs as small modules; build.py is the one front door and only parses arguments.

    pins      versions and vendored file lists      paths     where things are
    files     errors, log, hashing, file helpers    shell     commands, sudo, apt-get
    verify    a file with a known hash, from the first source that has it
    npm       node_modules from the lock             wheels    Pyodide's NumPy and Pillow
    models    the ONNX models: raw, then prepared    licenses  licenses.txt
    venvs     .venv and the build's own venv         prepare_model  (run in the build venv)
    site      dist/, assembled and swapped in        serve     the development server
    testenv   `build.py test`: Debian packages, .venv, build, pytest

Standard library only (the build runs with a bare ``python3``), except prepare_model, which
the build runs as a subprocess in its own venv.
"""
