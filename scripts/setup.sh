#!/usr/bin/env bash
# Installs what a fresh machine lacks: pnpm 12.4.2 (corepack cannot verify it here) and the workspace's
# dependencies (CPU-only: the GPU/ARM prebuilt llama.cpp binaries are ignored in pnpm-workspace.yaml).
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
