#!/usr/bin/env bash
# Build the wheel once, then for every Python 3.11 / 3.12 / 3.13 found on this machine: a clean venv,
# `pip install` of the wheel (+ the onnx extra), and three checks: the import (typed, licensed,
# versioned), `lstmcast demo` with 2 epochs, and an ONNX export of the demo model.
#
#   bash scripts/smoke_pythons.sh                 # every interpreter found
#   bash scripts/smoke_pythons.sh python3.12      # the ones named
#
# Environment: PYTHON_BUILD (interpreter that has `build`, default python3), SMOKE_DIR (work
# folder, default a temporary one), PIP_EXTRA (more pip arguments for the install, e.g. a
# --find-links folder holding a CPU torch wheel for that Python, or -c constraints.txt).
# Prints one line per interpreter and exits non-zero when any failed.
set -uo pipefail
cd "$(dirname "$0")/.."

build_python=${PYTHON_BUILD:-python3}
work=${SMOKE_DIR:-$(mktemp -d)}
mkdir -p "$work"

if [ $# -gt 0 ]; then
    candidates=("$@")
else
    candidates=()
    for version in 3.11 3.12 3.13; do
        for dir in /usr/bin /usr/local/bin "$HOME/.pyenv/versions/$version"*/bin; do
            if [ -x "$dir/python$version" ]; then candidates+=("$dir/python$version"); break; fi
        done
    done
fi

echo "== building the wheel and the sdist into $work/dist"
rm -rf "$work/dist"
if ! "$build_python" -m build --outdir "$work/dist" . > "$work/build.log" 2>&1; then
    tail -20 "$work/build.log"; echo "FAIL build (log: $work/build.log)"; exit 1
fi
wheel=$(ls "$work"/dist/lstmcast-*.whl)
sdist=$(ls "$work"/dist/lstmcast-*.tar.gz)
wheel_files=$(unzip -l "$wheel")
for member in licenses/LICENSE lstmcast/py.typed; do
    grep -q "$member" <<< "$wheel_files" || { echo "FAIL wheel lacks $member"; exit 1; }
done
grep -q '/LICENSE$' <<< "$(tar tzf "$sdist")" || { echo "FAIL sdist lacks LICENSE"; exit 1; }
echo "   $(basename "$wheel"), $(basename "$sdist"): LICENSE and py.typed inside"

status=0
summary=()
for py in "${candidates[@]}"; do
    name=$(basename "$py")
    venv="$work/venv-$name"
    log="$work/$name.log"
    echo "== $name ($("$py" --version 2>&1)) -> $venv (log: $log)"
    rm -rf "$venv"
    start=$SECONDS
    step=venv
    {
        "$py" -m venv "$venv" &&
        step=install && "$venv/bin/python" -m pip install --progress-bar off ${PIP_EXTRA:-} "$wheel[onnx]" &&
        step=import && (cd "$work" && "$venv/bin/python" - <<'EOF'
import importlib.metadata as md
import pathlib

import lstmcast

meta = md.metadata("lstmcast")
files = [str(f) for f in md.files("lstmcast")]
assert meta["License-Expression"] == "MIT", meta["License-Expression"]
assert any(f.endswith("licenses/LICENSE") for f in files), files
assert (pathlib.Path(lstmcast.__file__).parent / "py.typed").exists()
assert lstmcast.__version__ == md.version("lstmcast")
assert "site-packages" in lstmcast.__file__, lstmcast.__file__  # the installed wheel, not a checkout
print("import ok", lstmcast.__version__, lstmcast.__file__)
EOF
        ) &&
        step=demo && (cd "$work" && "$venv/bin/lstmcast" demo --out "runs-$name" --set train.max_epochs=2 --json \
            > "$work/$name-demo.json") &&
        step=export && (cd "$work" && "$venv/bin/lstmcast" export --model "runs-$name/model" --format onnx \
            --out "runs-$name/model.onnx" --json > "$work/$name-export.json")
    } > "$log" 2>&1
    rc=$?
    seconds=$((SECONDS - start))
    if [ $rc -eq 0 ]; then
        rmse=$("$venv/bin/python" -c "import json,sys; print(json.load(open(sys.argv[1]))['metrics']['rmse'])" \
            "$work/$name-demo.json")
        line="PASS $name: import, demo (2 epochs, test RMSE $rmse), onnx export (${seconds}s)"
    else
        status=1
        line="FAIL $name at '$step' (${seconds}s): $(grep -E 'Error|error|FAIL' "$log" | tail -1)"
    fi
    echo "   $line"
    summary+=("$line")
done
echo "== summary"
printf '%s\n' "${summary[@]}"
exit $status
