import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { LLAMA_SERVER } from "@slm/testkit";

const run = promisify(execFile);
const cacheRoot = fileURLToPath(new URL("../../node_modules/.cache/llama-tools/", import.meta.url));

export interface LlamaTools {
  server: string;
  quantize: string;
  /** llama-bench, when built (attribution only). */
  bench: string;
}

/**
 * llama.cpp's own llama-server, llama-quantize and llama-bench, from the same llama.cpp source node-llama-cpp runs (the git bundle it
 * ships), built natively: LLAMA_SERVER (and llama-quantize beside it) when present, else a build cached under
 * node_modules/.cache/llama-tools/ (made once, ~10 min on 2 cores). Benchmarks only: never built in CI.
 */
export async function llamaTools(): Promise<LlamaTools> {
  const beside = {
    server: LLAMA_SERVER,
    quantize: join(dirname(LLAMA_SERVER), "llama-quantize"),
    bench: join(dirname(LLAMA_SERVER), "llama-bench"),
  };
  if (existsSync(beside.server) && existsSync(beside.quantize)) return beside;
  const bin = join(cacheRoot, "build", "bin");
  const cached = {
    server: join(bin, "llama-server"),
    quantize: join(bin, "llama-quantize"),
    bench: join(bin, "llama-bench"),
  };
  if (existsSync(cached.server) && existsSync(cached.quantize)) return cached;
  if (process.env["CI"]) throw new Error("llama-server/llama-quantize are missing and CI never builds them");
  console.log(
    `building llama-server and llama-quantize from node-llama-cpp's llama.cpp bundle into ${cacheRoot} (once)`,
  );
  const source = join(cacheRoot, "src");
  if (!existsSync(join(source, "CMakeLists.txt"))) {
    await rm(source, { recursive: true, force: true });
    await mkdir(cacheRoot, { recursive: true });
    await run("git", ["clone", "--quiet", bundlePath(), source]);
  }
  const build = join(cacheRoot, "build");
  await run(
    "cmake",
    [
      "-S",
      source,
      "-B",
      build,
      "-DCMAKE_BUILD_TYPE=Release",
      "-DGGML_NATIVE=ON",
      "-DLLAMA_CURL=OFF",
      "-DLLAMA_OPENSSL=OFF",
      "-DLLAMA_BUILD_TESTS=OFF",
      "-DLLAMA_BUILD_EXAMPLES=OFF",
    ],
    { maxBuffer: 64 << 20 },
  );
  await run("cmake", ["--build", build, "-j", "2", "--target", "llama-server", "llama-quantize", "llama-bench"], {
    maxBuffer: 256 << 20,
  });
  return cached;
}

function bundlePath(): string {
  const require = createRequire(fileURLToPath(new URL("../../apps/inference/package.json", import.meta.url)));
  let dir = dirname(require.resolve("node-llama-cpp"));
  while (!existsSync(join(dir, "llama", "gitRelease.bundle"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("node-llama-cpp's llama/gitRelease.bundle was not found");
    dir = parent;
  }
  return join(dir, "llama", "gitRelease.bundle");
}
