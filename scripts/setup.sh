#!/usr/bin/env bash
# Installs what a fresh machine lacks: pnpm 12.4.2 (corepack cannot verify it here), the workspace's
# dependencies (CPU-only: the GPU/ARM prebuilt llama.cpp binaries are ignored in pnpm-workspace.yaml) and Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(pnpm --version 2>/dev/null || true)" != "12.4.2" ]; then
  npm install -g pnpm@12.4.2 --no-fund --no-audit
fi
if [ "${CI:-}" = "true" ]; then
  pnpm install --frozen-lockfile
else
  pnpm install
fi

# The playground's browser test (apps/gateway/test/browser-playground.test.ts) drives Debian's Chromium.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
  else
    echo "setup: chromium is missing; the browser test needs it: sudo apt-get install chromium" >&2
  fi
fi
