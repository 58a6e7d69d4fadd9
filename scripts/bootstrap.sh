# Sourced by scripts/run and scripts/test: make .venv with everything installed.
# Idempotent: a second run only checks that requirements are satisfied.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "need root to run: $*" >&2; return 1; fi; }

apt_install() {  # apt_install PACKAGE... (Debian); only the missing ones
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
# textworld's jericho dependency compiles from source: it needs a C compiler and make.
if command -v dpkg >/dev/null; then
  command -v gcc >/dev/null && command -v make >/dev/null || apt_install build-essential
  "$PYTHON" -c "import venv, ensurepip" 2>/dev/null || apt_install python3-venv
fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
REQ_STAMP=.venv/.requirements-stamp
REQ_HASH="$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)"
step() { echo "[$(date +%H:%M:%S)] $*"; }  # what starts now, and roughly how long it takes
# A stamp is written only after every install of its block succeeded: each block is one
# && chain, because set -e is suspended when this file is sourced inside an && list
# (a failed pip install once left a stamp that said "installed").
failed() { echo "bootstrap: $* failed; run it again once the cause is fixed" >&2; return 1; }
if [ "$(cat "$REQ_STAMP" 2>/dev/null)" != "$REQ_HASH" ]; then
  step "installing Python packages into .venv (first run: 5-10 minutes; jericho compiles from source)"
  .venv/bin/pip install -q --upgrade pip wheel "setuptools<82" &&
    .venv/bin/pip install -q -r "${BALROG_REQUIREMENTS:-requirements-dev.txt}" &&
    echo "$REQ_HASH" > "$REQ_STAMP" || { failed "installing .venv's packages"; return 1; }
  step "Python packages installed"
fi

# The BALROG reference's NetHack/MiniHack engine (balrog-nle 0.9, gym 0.23) runs
# in a venv of its own as a sidecar process (games/nethack/sidecar.py); its clock
# is pinned with libfaketime.
if command -v dpkg >/dev/null; then apt_install libfaketime; fi
[ -x .venv-nle09/bin/python ] || "$PYTHON" -m venv .venv-nle09
NLE09_STAMP=.venv-nle09/.requirements-stamp
NLE09_HASH="$(sha256sum requirements-nle09.txt | cut -d' ' -f1)"
if [ "$(cat "$NLE09_STAMP" 2>/dev/null)" != "$NLE09_HASH" ]; then
  step "installing the reference NetHack engine into .venv-nle09 (first run: 2-5 minutes, it compiles NetHack)"
  # minihack 0.1.6's metadata asks for nle; balrog-nle is that nle.
  .venv-nle09/bin/pip install -q --upgrade pip wheel "setuptools<82" &&
    .venv-nle09/bin/pip install -q -r requirements-nle09.txt &&
    .venv-nle09/bin/pip install -q --no-deps minihack==0.1.6 &&
    echo "$NLE09_HASH" > "$NLE09_STAMP" || { failed "installing .venv-nle09's packages"; return 1; }
  step "reference NetHack engine installed"
fi
export PATH="$ROOT/.venv/bin:$PATH"
