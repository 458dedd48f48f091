#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian machine with Python 3.11+:
#   scripts/setup.sh [demo|test|bench]
# installs the Debian packages the chosen job needs (only those missing), creates .venv and
# installs the project with the right extras (again only when pyproject.toml changed).
set -euo pipefail
cd "$(dirname "$0")/.."
job="${1:-demo}"

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# -- system packages --------------------------------------------------------------------
apt_packages=(libzbar0 mosquitto)          # pyzbar's C library; the MQTT broker
case "$job" in
  # chromium: the dashboard's end-to-end test; nats-server: the clustered-broker tests; postgresql: the
  # central store's tests and benchmark (127.0.0.1:5432 when it answers, else a private cluster of these binaries)
  test|bench) apt_packages+=(chromium nats-server postgresql) ;;
esac
python_bin="${PYTHON:-python3}"
if ! "$python_bin" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  apt_packages+=(python3-venv)
fi
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { log "need root or sudo to apt-get install ${missing[*]}"; exit 1; }
    sudo="sudo"
  fi
  log "apt-get install ${missing[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# -- Python ----------------------------------------------------------------------------
"$python_bin" - <<'PY' || { log "Python 3.11 or newer is required"; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$python_bin" -m venv .venv
fi
extras="dev"
[ "$job" = "demo" ] && extras=""
[ "$job" = "bench" ] && extras="dev,bench"
stamp=".venv/.installed-${extras:-base}"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "installing gs1-border-gateway${extras:+[$extras]} into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".${extras:+[$extras]}"
  echo "$want" > "$stamp"
fi
