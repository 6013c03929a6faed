#!/usr/bin/env bash
# Runs the code the documentation shows, so that it cannot rot: every fenced block whose info
# string says `test` (```sh test, ```c test, ```python test) in README.md and docs/*.md, in
# order, page by page. Also checks that every relative link of those pages points at a file
# that exists, and that the pages written for an audience (docs/c.md, docs/python.md,
# docs/training.md) and the README's quick start each have tested blocks.
#
#   scripts/test-docs.sh MODEL [PAGE...]     MODEL: a small trained MNIST model (ch1-like)
#
# Each page runs in a fresh directory of its own holding ch1.nnrt (a copy of MODEL) and the
# symbolic links build, Bindings, Examples, Include and scripts to this checkout, so blocks read
# as if run from the repository root while what they write stays in the scratch directory:
# - sh: `bash -eo pipefail`, with MNIST_DIR set (from the environment, or nnrt's cache);
# - c: a complete program, compiled with `cc -std=c99 -Wall -Wextra -pedantic -Werror
#   -Ibuild/include FILE -Lbuild/lib -lnnrt -lpthread -Wl,-rpath,...`, then run;
# - python: run by a Python that can `import nnrt` and numpy (build/venv of
#   scripts/test-python.sh if present, else a fresh build/venv-docs).
# A block fails on a non-zero exit status or after 300 s; its output is shown then (always with
# DOCS_VERBOSE=1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
model=${1:?usage: scripts/test-docs.sh MODEL [PAGE...]}
shift
model=$(cd "$(dirname "$model")" && pwd)/$(basename "$model")
[ -x build/bin/nnrt ] && [ -f build/lib/libnnrt.so ] || { echo "test-docs.sh: run scripts/build.sh first" >&2; exit 2; }
export MNIST_DIR=${MNIST_DIR:-$(build/bin/nnrt mnist --print-dir)}

# A Python with nnrt and numpy.
py=""
for candidate in "$root/build/venv/bin/python" "$root/build/venv-docs/bin/python"; do
  if [ -x "$candidate" ] && "$candidate" -c "import nnrt, numpy" 2>/dev/null; then py=$candidate; break; fi
done
if [ -z "$py" ]; then
  venv="$root/build/venv-docs"
  rm -rf "$venv"
  python3 -m venv --system-site-packages "$venv"
  "$venv/bin/python" -c "import numpy" 2>/dev/null || "$venv/bin/python" -m pip install -q numpy
  "$venv/bin/python" -m pip install -q --no-deps ./Bindings/python
  py="$venv/bin/python"
fi
export NNRT_LIBRARY="$root/build/lib/libnnrt.so"

pages=("$@")
[ ${#pages[@]} -gt 0 ] || pages=(README.md docs/*.md)
exec python3 - "$root" "$model" "$py" "${pages[@]}" <<'PY'
import os, re, shutil, subprocess, sys, tempfile

root, model, python, pages = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
MUST_HAVE_TESTS = {"README.md", "docs/c.md", "docs/python.md", "docs/training.md"}
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([A-Za-z0-9_+-]*)(.*)$")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
passed = failed = 0

def report(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {what}")
    else:
        failed += 1
        print(f"FAIL {what}")
        if detail:
            print("     " + detail.rstrip().replace("\n", "\n     "))

def blocks(text):
    """(line, language, code) for each fenced block marked `test`."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang, rest = m.groups()
        start = i + 1
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        if "test" in rest.split():
            yield start, lang, "\n".join(body) + "\n"

def run(cmd, cwd, env, timeout=300):
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        return p.returncode, p.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        return 124, (e.stdout or b"").decode("utf-8", "replace") + f"\n(timed out after {timeout} s)"

def check_links(page, text):
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        path = target.split("#")[0]
        resolved = os.path.normpath(os.path.join(root, os.path.dirname(page), path))
        if not os.path.exists(resolved):
            report(False, f"{page}: link to {target}", f"{resolved} does not exist")

for page in pages:
    text = open(os.path.join(root, page), encoding="utf-8").read()
    check_links(page, text)
    found = list(blocks(text))
    if page in MUST_HAVE_TESTS:
        report(bool(found), f"{page}: has tested code blocks ({len(found)})")
    if not found:
        continue
    work = tempfile.mkdtemp(prefix="nnrt-docs-")
    try:
        for name in ("build", "Bindings", "Examples", "Include", "scripts"):
            os.symlink(os.path.join(root, name), os.path.join(work, name))
        shutil.copy(model, os.path.join(work, "ch1.nnrt"))
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        for n, (line, lang, code) in enumerate(found):
            where = f"{page}:{line} ({lang})"
            if lang in ("sh", "bash", "shell", "console"):
                status, out = run(["bash", "-eo", "pipefail", "-c", code], work, env)
            elif lang == "c":
                source = os.path.join(work, f"snippet{n}.c")
                open(source, "w").write(code)
                status, out = run(["cc", "-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-Ibuild/include",
                                   source, "-o", f"snippet{n}", "-Lbuild/lib", "-lnnrt", "-lpthread",
                                   "-Wl,-rpath," + os.path.join(root, "build", "lib")], work, env)
                if status == 0:
                    status, out = run([f"./snippet{n}"], work, env)
            elif lang == "python":
                source = os.path.join(work, f"snippet{n}.py")
                open(source, "w").write(code)
                status, out = run([python, source], work, env)
            else:
                report(False, where, f"no runner for language '{lang}'")
                continue
            report(status == 0, where, f"exit status {status}:\n{out[-3000:]}" if status else "")
            if status == 0 and os.environ.get("DOCS_VERBOSE") == "1" and out.strip():
                print("     " + out[-3000:].rstrip().replace("\n", "\n     "))
    finally:
        shutil.rmtree(work, ignore_errors=True)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
