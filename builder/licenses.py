"""licenses.txt: what the site ships from others, and every licence text found in it.

Imports builder.files, builder.pins and the standard library.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from builder.files import write_atomic
from builder.pins import (
    MICROPYTHON_VERSION, MODEL_DATA_VERSION, NPM_PACKAGES, ORT_WEB_VERSION, PYODIDE_VERSION, PYODIDE_WHEELS,
    PYSCRIPT_VERSION,
)


NOTICE_HEAD = f"""\
Cutout ships these third-party artifacts, unmodified.

  artifact                                            version   licence
  PyScript core (npm @pyscript/core)                  {PYSCRIPT_VERSION:<9} Apache-2.0
  Pyodide (npm pyodide), with CPython 3.12            {PYODIDE_VERSION:<9} MPL-2.0 (CPython: PSF-2.0)
  NumPy (Pyodide wheel)                               {PYODIDE_WHEELS['numpy']:<9} BSD-3-Clause
  Pillow (Pyodide wheel)                              {PYODIDE_WHEELS['pillow']:<9} MIT-CMU (HPND)
  MicroPython (npm @micropython/micropython-webassembly-pyscript)
                                                      {MICROPYTHON_VERSION:<9} MIT
  ONNX Runtime Web (npm onnxruntime-web)              {ORT_WEB_VERSION:<9} MIT
  ISNet model weights (DIS, Xuebin Qin et al.)                  MIT, per ThirdPartyLicenses.json below
  @imgly/background-removal-data (npm; the models)    {MODEL_DATA_VERSION:<9} AGPL-3.0

Licence texts not shipped inside the packages:
  Pyodide       https://github.com/pyodide/pyodide/blob/main/LICENSE
  MicroPython   https://github.com/micropython/micropython/blob/master/LICENSE
  ONNX Runtime  https://github.com/microsoft/onnxruntime/blob/main/LICENSE
                (Copyright (c) Microsoft Corporation)
  ISNet / DIS   https://github.com/xuebinqin/DIS

The licence texts found in the packages follow.
"""


LICENSE_FILE_NAMES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "ThirdPartyLicenses.json")


def license_texts(node_modules: Path, wheels: list[Path]) -> list[tuple[str, str]]:
    """(title, text) of every licence file shipped inside the npm packages and wheels."""
    texts = []
    for package in NPM_PACKAGES:
        for name in LICENSE_FILE_NAMES:
            path = node_modules / package / name
            if path.is_file():
                texts.append((f"{package}: {name}", path.read_text(encoding="utf-8", errors="replace")))
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as z:
            for member in sorted(z.namelist()):
                base = member.rsplit("/", 1)[-1]
                if ".dist-info/" in member and base.upper().startswith(("LICENSE", "COPYING")):
                    texts.append((f"{wheel.name}: {member}", z.read(member).decode("utf-8", "replace")))
    return texts


def write_licenses(path: Path, node_modules: Path, wheels: list[Path]) -> None:
    parts = [NOTICE_HEAD]
    for title, text in license_texts(node_modules, wheels):
        parts.append(f"\n{'=' * 78}\n{title}\n{'=' * 78}\n\n{text.rstrip()}\n")
    write_atomic(path, "".join(parts).encode("utf-8"))
