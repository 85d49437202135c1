#!/usr/bin/env bash
# Installs Debian's Chromium (used by kaleido for PNG export and by the browser tests).
# Playwright must never download a browser of its own: there is no network for that.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    echo "chromium: $(command -v chromium) already installed"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "chromium is missing and we are not root: skipping its install." >&2
    echo "Install it yourself (apt-get install chromium chromium-driver); PNG export and the browser tests need it." >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium chromium-driver >/dev/null
echo "chromium: installed $(chromium --version)"
