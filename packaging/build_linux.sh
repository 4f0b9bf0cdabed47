#!/usr/bin/env bash
# Build the one-folder Linux app dist/ctrg-desktop/ with PyInstaller from the project's .venv,
# then smoke-test the frozen app.
#
#   bash packaging/build_linux.sh              # build + smoke test
#   bash packaging/build_linux.sh --smoke-only # smoke-test an existing dist/ctrg-desktop
#   bash packaging/build_linux.sh --build-only
#
# Needs: .venv (scripts/setup.sh), xvfb-run for the GUI steps. Logs and screenshots go to
# build/smoke/; the PyInstaller log to build/pyinstaller.log.
set -u -o pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python
DIST=$ROOT/dist
WORK=$ROOT/build/pyinstaller
APP_DIR=$DIST/ctrg-desktop
APP=$APP_DIR/ctrg-desktop
CLI=$APP_DIR/ctrg
SMOKE=$ROOT/build/smoke

build=1 smoke=1
for arg in "$@"; do
  case $arg in
    --smoke-only) build=0 ;;
    --build-only) smoke=0 ;;
    *) echo "build_linux.sh: error: unknown option $arg" >&2; exit 2 ;;
  esac
done
[ -x "$PY" ] || { echo "build_linux.sh: error: no .venv (run bash scripts/setup.sh first)" >&2; exit 2; }

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

if [ $build = 1 ]; then
  if ! "$PY" -c "import PyInstaller" 2>/dev/null; then
    echo "== installing pyinstaller into .venv"
    "$PY" -m pip install --disable-pip-version-check pyinstaller || exit 1
  fi
  mkdir -p "$ROOT/build"
  echo "== building $APP_DIR (log: build/pyinstaller.log)"
  t0=$(now)
  if ! "$PY" -m PyInstaller --noconfirm --distpath "$DIST" --workpath "$WORK" \
       packaging/ctrg_desktop.spec >"$ROOT/build/pyinstaller.log" 2>&1; then
    tail -30 "$ROOT/build/pyinstaller.log"
    echo "build_linux.sh: error: PyInstaller failed (see build/pyinstaller.log)" >&2
    exit 1
  fi
  echo "== built in $(since "$t0") s: $(du -sh "$APP_DIR" | cut -f1) in $APP_DIR"
fi

[ $smoke = 1 ] || exit 0
[ -x "$APP" ] || { echo "build_linux.sh: error: $APP is missing (build first)" >&2; exit 2; }
rm -rf "$SMOKE" && mkdir -p "$SMOKE"
failed=0
results=()

# step NAME CMD...: run one smoke step, log to build/smoke/NAME.log, record pass/fail and time
step() {
  local name=$1; shift
  local t0 rc
  t0=$(now)
  "$@" >"$SMOKE/$name.log" 2>&1
  rc=$?
  local line="$(printf '%-5s %-22s %6ss' "$([ $rc = 0 ] && echo PASS || echo FAIL)" "$name" "$(since "$t0")")"
  results+=("$line")
  echo "$line"
  if [ $rc != 0 ]; then
    failed=1
    sed 's/^/    | /' "$SMOKE/$name.log" | tail -15
  fi
}

expect_version() {  # CMD...: prints "NAME 0.1.0"
  local out
  out=$("$@") || return 1
  echo "$out"
  [[ $out =~ [0-9]+\.[0-9]+\.[0-9]+ ]]
}

screenshot() {  # PNG ARGS...: the GUI renders the demo study and exits; the PNG is not blank
  local png=$1; shift
  xvfb-run -a -s "-screen 0 1600x1000x24" "$APP" --demo "$@" --screenshot "$png" || return 1
  "$PY" packaging/check_png.py "$png"
}

models() {  # the zoo lists the bundled demo model
  local out
  out=$("$CLI" models) || return 1
  echo "$out"
  grep -q "demo" <<<"$out"
}

generate() {  # the CLI drafts the demo study in-process
  local nifti
  nifti=$("$CLI" demo-data | "$PY" -c "import json, sys; print(json.load(sys.stdin)['nifti'])") || return 1
  "$CLI" generate "$nifti" --model demo --device cpu --out "$SMOKE/generate/report.json" &&
    [ -s "$SMOKE/generate/report.json" ]
}

train() {  # phantoms, then a tiny training run the way the wizard starts it (EXE -m ctrg_desktop.cli)
  "$CLI" phantoms --out "$SMOKE/phantoms" --count 6 &&
    "$APP" -u -m ctrg_desktop.cli train structure --config configs/train/tiny_structure.json \
      --data "$SMOKE/phantoms" --out "$SMOKE/train" &&
    [ -f "$SMOKE/train/model/config.json" ]
}

echo "== smoke test of the frozen app (logs: build/smoke/)"
step gui-version expect_version "$APP" --version
step cli-version expect_version "$CLI" --version
step cli-models models
# A frozen app has no pip: fetch the demo study with the venv into the user data folder, which
# the frozen app reads too.
step demo-data "$ROOT/.venv/bin/ctrg" demo-data
step data-check "$APP" -c "$(cat packaging/frozen_check.py)"
step gui-demo screenshot "$SMOKE/demo.png"
step gui-draft screenshot "$SMOKE/draft.png" --draft --device cpu
step cli-generate generate
step cli-train train

echo "== summary ($(du -sh "$APP_DIR" | cut -f1) in $APP_DIR)"
printf '%s\n' "${results[@]}"
exit $failed
