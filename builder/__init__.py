"""The build's jobs as small modules; build.py is the one front door and only parses arguments.

    pins      versions and vendored file lists      paths     where things are
    files     errors, log, hashing, file helpers    shell     commands, sudo, apt-get
    verify    a file with a known hash, from the first source that has it
    npm       node_modules from the lock             wheels    Pyodide's NumPy and Pillow
    models    the ONNX models: raw, then prepared    licenses  licenses.txt
    venvs     .venv and the build's own venv
    prepare_model, probe_model   the app's model files and the WebGPU probe (run in the build venv)
    site      dist/, assembled and swapped in        serve     the development server
    webapp    icons, web app manifest, service worker, the page's CSP   csp   the policy
    icons     the PNG icons from static/icon.svg (run in the build venv)
    testenv   `build.py test`: Debian packages, .venv, build, pytest

Standard library only (the build runs with a bare ``python3``), except prepare_model,
probe_model and icons' rendering, which the build runs as subprocesses in its own venv.
"""
