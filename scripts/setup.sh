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

# Opt-in: llama.cpp built from the source node-llama-cpp bundles, with our patch to its addon (a persistent thread
# pool per context; docs/llama-source-build.md). ~5-10 minutes on 2 cores, offline; the service then loads it.
if [ "${SLM_LLAMA_SOURCE_BUILD:-}" = "1" ]; then
  pnpm llama:build
fi

# The playground's browser test (apps/gateway/test/browser-playground.test.ts) drives Debian's Chromium.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
  else
    echo "setup: chromium is missing; the browser test needs it: sudo apt-get install chromium" >&2
  fi
fi

# The gateway's shared-quota tests (apps/gateway/test/redis-quota.test.ts) use the Redis on 127.0.0.1:6379.
if ! command -v redis-server >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  if command -v redis-server >/dev/null 2>&1; then
    redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save "" --appendonly no >/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.2; done
  else
    echo "setup: redis-server is missing; the gateway's shared-quota tests need it: sudo apt-get install redis-server" >&2
  fi
fi
