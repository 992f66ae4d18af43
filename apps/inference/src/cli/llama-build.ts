/**
 * `pnpm llama:build` compiles llama.cpp and node-llama-cpp's addon from the source node-llama-cpp bundles (offline,
 * 8.5 minutes on 2 cores natively, much longer with every CPU variant), with our patch to the addon
 * (patches/node-llama-cpp@*.patch: one persistent ggml thread pool per context, as llama-server keeps) and
 * LLAMA_SOURCE_BUILD_CMAKE_OPTIONS, then loads the result the way the service does and says which build it got.
 * Opt-in: `SLM_LLAMA_SOURCE_BUILD=1 bash scripts/setup.sh`, or the images' `--build-arg LLAMA_SOURCE_BUILD=true`;
 * see docs/llama-source-build.md for what it changes and the measurements.
 *
 * Extra CMake options come from NODE_LLAMA_CPP_CMAKE_OPTION_<NAME>=<value> variables, at build time and at run
 * time alike (node-llama-cpp loads a local build only when its options match): the images set the portable ones.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { LLAMA_SOURCE_BUILD_CMAKE_OPTIONS, startLlama } from "../engine/index.ts";

const inferenceDir = fileURLToPath(new URL("../../", import.meta.url));
const cli = fileURLToPath(new URL("../../node_modules/node-llama-cpp/dist/cli/cli.js", import.meta.url));

async function main(): Promise<void> {
  const env = { ...process.env };
  for (const [name, value] of Object.entries(LLAMA_SOURCE_BUILD_CMAKE_OPTIONS))
    env[`NODE_LLAMA_CPP_CMAKE_OPTION_${name}`] = value;
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [cli, "source", "download", "--gpu", "false", "--noUsageExample"], {
      cwd: inferenceDir,
      env,
      stdio: "inherit",
    });
    child.on("error", reject);
    child.on("exit", resolve);
  });
  if (code !== 0) throw new Error(`node-llama-cpp source download exited with ${String(code)}`);

  const llama = await startLlama(2);
  const built = llama.buildType === "localBuild";
  process.stdout.write(
    `llama:build: the service now loads ${built ? "this source build" : `the ${llama.buildType} binary (the build's options do not match)`}\n`,
  );
  await llama.dispose();
  if (!built) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`llama:build failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
