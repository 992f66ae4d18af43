import { defineConfig } from "vitest/config";

// The container test builds images and runs a compose stack on a shared 2-core machine: give it room.
export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 2_400_000,
  },
});
