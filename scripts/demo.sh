#!/usr/bin/env bash
# Set up (if needed), fetch the real demo chest CT, start the app on it and draft a report with
# the bundled demo model (the app's main job).
# Usage: bash scripts/demo.sh   (add --screenshot FILE to render and exit)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ctrg demo-data
if [ -z "${DISPLAY:-}" ]; then
  echo "demo: no display found, running under xvfb-run"
  exec xvfb-run -a -s "-screen 0 1600x1200x24" .venv/bin/ctrg-desktop --demo --draft "$@"
fi
exec .venv/bin/ctrg-desktop --demo --draft "$@"
