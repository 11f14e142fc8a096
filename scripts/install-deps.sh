#!/usr/bin/env bash
# Installs what building and testing Rivulet needs and is missing: Debian packages and the
# Python virtual environment in .venv for the end-to-end tests. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v swift >/dev/null; then
    echo "install-deps: the Swift 6 toolchain is missing: install it from swift.org and put 'swift' on PATH" >&2
    exit 1
fi

packages=(libssl-dev pkg-config openssl ca-certificates)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "install-deps: installing ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi


if [ "${1:-}" = "--with-python" ]; then
    requirements=tests/e2e/requirements.txt
    stamp=.venv/.requirements-installed
    if [ ! -x .venv/bin/python ]; then
        echo "install-deps: creating .venv"
        python3 -m venv .venv
    fi
    if [ ! -f "$stamp" ] || ! cmp -s "$requirements" "$stamp"; then
        echo "install-deps: installing Python test packages"
        .venv/bin/python -m pip install -q --upgrade pip
        .venv/bin/python -m pip install -q -r "$requirements"
        cp "$requirements" "$stamp"
    fi
fi
