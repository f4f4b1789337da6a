// Runs a Python script in Pyodide's own CPython under Node, with a host folder as /work:
//
//   node builder/run_in_pyodide.mjs PYODIDE_DIR SCRIPT.py WORK_DIR
//
// The build uses it to compile bytecode with the very Python the browser runs
// (builder/bytecode.py). The script sees sys.argv = [SCRIPT, "/work"].
import { readFileSync } from "node:fs";
import path from "node:path";

const [pyodideDir, script, work] = process.argv.slice(2);
const { loadPyodide } = await import(path.resolve(pyodideDir, "pyodide.mjs"));
const pyodide = await loadPyodide({ indexURL: path.resolve(pyodideDir) + "/" });
pyodide.FS.mkdirTree("/work");
pyodide.mountNodeFS("/work", path.resolve(work));
pyodide.runPython(`import sys; sys.argv = [${JSON.stringify(path.basename(script))}, "/work"]`);
pyodide.runPython(readFileSync(script, "utf8"), { filename: path.basename(script) });
