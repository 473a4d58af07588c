#!/usr/bin/env bash
# `make install-browser`: Debian's Chromium, which tests/test_site.py drives headless to render the
# offline site and a deck (the test is skipped without it, unless ML4MIR_REQUIRE_BROWSER=1).
set -euo pipefail
if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then
  echo "Chromium is installed: $(command -v chromium || command -v chromium-browser)"
elif command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && apt-get install -y -qq chromium
elif command -v apt-get >/dev/null && command -v sudo >/dev/null; then
  sudo apt-get update -qq && sudo apt-get install -y -qq chromium
else
  echo "Install Chromium (or Chrome) with your package manager to run the site test." >&2
  exit 1
fi
