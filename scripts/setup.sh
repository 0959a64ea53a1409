#!/usr/bin/env bash
# Installs everything reelgate needs on a fresh Debian/Ubuntu machine: the Debian packages
# (a CJK font for captions, espeak-ng for the offline Chinese voice) and the Python package
# with its pinned dependencies. Safe to run again: it skips what is already there.
#
# Python packages go into a virtual environment, never into the system's Python: by default
# .venv in this checkout (REELGATE_VENV moves it), made with --system-site-packages so that
# heavy wheels the machine already has (torch, say) are reused when they match the pins.
# PYTHON names another interpreter to install into instead (the worker image's /opt/venv).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${REELGATE_VENV:-$PWD/.venv}
PYTHON=${PYTHON:-$VENV/bin/python}
# The interpreter the environment is made from (3.11 or 3.12, as pyproject.toml requires).
BASE_PYTHON=${REELGATE_BASE_PYTHON:-python3}
make_venv=0
[ "$PYTHON" = "$VENV/bin/python" ] && [ ! -x "$PYTHON" ] && make_venv=1

debs=()
command -v espeak-ng >/dev/null 2>&1 || debs+=(espeak-ng)
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || debs+=(fonts-wqy-microhei)
# dlib compiles from source against OpenBLAS (6x faster face embeddings than the prebuilt wheel).
command -v g++ >/dev/null 2>&1 || debs+=(g++)
command -v cmake >/dev/null 2>&1 || debs+=(cmake)
dpkg -s libopenblas-dev >/dev/null 2>&1 || debs+=(libopenblas-dev)
# The review page's browser test: headless Chromium and its driver. REELGATE_SETUP_BROWSER=0 skips
# them (the worker image: it never drives a browser, and Ubuntu, under the CUDA image, ships Chromium
# only as a snap).
if [ "${REELGATE_SETUP_BROWSER:-1}" != 0 ]; then
  command -v chromium >/dev/null 2>&1 || debs+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || debs+=(chromium-driver)
fi
# The scale-out test: a throwaway PostgreSQL cluster under the postgres user (tests/scaleout.py).
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || debs+=(postgresql)
# Debian's Python makes virtual environments only with python3-venv (ensurepip) installed.
if [ $make_venv = 1 ] && ! "$BASE_PYTHON" -c "import ensurepip" >/dev/null 2>&1; then debs+=(python3-venv); fi
if [ ${#debs[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing Debian packages: ${debs[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${debs[@]}" >/dev/null
fi

if [ $make_venv = 1 ]; then
  echo "setup: making the virtual environment $VENV (from $("$BASE_PYTHON" --version 2>&1), with its site packages)"
  "$BASE_PYTHON" -m venv --system-site-packages "$VENV"
fi

# Editable install with the test extras; the pins in pyproject.toml keep torch/torchvision
# matched and prefect on a fastapi/SQLAlchemy pair that works (see the comments there).
# The checks run from / so that this folder on the path does not pass for an install: reelgate
# must be installed from here, into this environment, with its `reelgate` command beside it.
case $PYTHON in /*) ;; */*) PYTHON=$PWD/$PYTHON ;; esac
# After a good check or install the checkout's environment gets a stamp; while it is newer than
# pyproject.toml and this script, nothing changed that needs checking again (the checks import
# torch: 5 s on every `make` command). Delete it, or .venv, to check and install again.
STAMP=$VENV/.reelgate-setup
if [ "$PYTHON" = "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$STAMP" -nt pyproject.toml ] \
   && [ "$STAMP" -nt scripts/setup.sh ] && [ -x "$PYTHON" ]; then
  echo "setup: ok (no change since the last set-up)"
  exit 0
fi
if ! (cd / && "$PYTHON" -c "import reelgate, cli, prefect, torch, torchvision, nudenet, facenet_pytorch, piper, pytest, srt, selenium") >/dev/null 2>&1 \
   || ! "$PYTHON" -c "import dlib, sys; sys.exit(not dlib.DLIB_USE_BLAS)" >/dev/null 2>&1 \
   || [ "$(cd / && "$PYTHON" -c 'import reelgate, os, sysconfig; print(os.path.dirname(os.path.dirname(reelgate.__file__)) if os.path.exists(os.path.join(sysconfig.get_path("scripts"), "reelgate")) else "")' 2>/dev/null)" != "$PWD" ]; then
  echo "setup: installing Python dependencies (first time: ~15 minutes: ~5 GB with torch, and dlib compiles)"
  # The prebuilt dlib-bin wheel installs the same module without BLAS; it must not shadow dlib.
  "$PYTHON" -m pip uninstall -y -q dlib-bin >/dev/null 2>&1 || true
  "$PYTHON" -m pip install -q --disable-pip-version-check -e ".[dev]"
fi
if [ "$PYTHON" = "$VENV/bin/python" ]; then : > "$STAMP"; fi
echo "setup: ok"
