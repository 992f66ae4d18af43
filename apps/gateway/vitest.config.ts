import { defineConfig } from "vitest/config";

// Process-level tests start real services (and llama.cpp) on a shared 2-core machine: give them room.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
