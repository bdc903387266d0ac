#!/usr/bin/env bash
# Set up what the tests need on a fresh machine, then `.venv/bin/pytest` runs them all:
#  1. Debian packages: mosquitto (the broker of the MQTT tests) and, where they are
#     missing, a C compiler and Python's headers and venv module (cosim compiles its
#     core and its FMUs); chromium and chromium-driver (the browser of the live
#     view's tests, driven by Selenium).  Installed when this runs as root or with passwordless sudo;
#     otherwise named here, and the MQTT tests run on amqtt (from PyPI) instead.
#  2. .venv: cosim, editable, with its test extra.
set -euo pipefail
cd "$(dirname "$0")/.."

have() {   # an executable file on PATH or in /usr/sbin (Debian's place for mosquitto)
    local path
    path=$(command -v "$1" 2>/dev/null) || path=/usr/sbin/$1
    [ -f "$path" ] && [ -x "$path" ]
}
missing=()
{ have mosquitto && have mosquitto_passwd; } || missing+=(mosquitto)
have cc || missing+=(gcc)
{ have chromium && have chromedriver; } || missing+=(chromium chromium-driver)
python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
python3 -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("include"), "Python.h")))' \
    || missing+=(python3-dev)

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        as_root=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        as_root=(sudo -n)
    else
        as_root=(none)
    fi
    if [ "${as_root[*]}" = none ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "setup-tests: cannot install Debian packages here (needs apt-get and root or" \
             "passwordless sudo): ${missing[*]}" >&2
    elif ! { "${as_root[@]}" apt-get update -qq &&
             "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
                 apt-get install -y -qq --no-install-recommends "${missing[@]}"; }; then
        echo "setup-tests: apt-get could not install: ${missing[*]}" >&2
    fi
fi

python3 -m venv .venv
.venv/bin/pip install -e '.[test]'
