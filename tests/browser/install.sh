#!/usr/bin/env bash
# What `make test-browser` needs beyond the workbook's own packages: Debian's Chromium, a
# Japanese (CJK) font for it, and Python Playwright to drive it. Installs only what is missing.
# Playwright drives /usr/bin/chromium; it never downloads a browser of its own.
set -euo pipefail
PY=${1:-.venv/bin/python}


missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
{ command -v fc-list >/dev/null 2>&1 && fc-list :lang=ja family | grep -q .; } || missing+=(fonts-noto-cjk)
if ((${#missing[@]})); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "As root, run: apt-get install ${missing[*]}" >&2; exit 1; }
    sudo=sudo
  fi
  echo "Installing ${missing[*]} (apt-get)"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

"$PY" -c "import playwright" 2>/dev/null || "$PY" -m pip install -q -c constraints.txt -e ".[browser]"  # pinned in pyproject.toml
