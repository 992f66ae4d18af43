import { availableParallelism } from "node:os";
import { getLlama, LlamaLogLevel, type Llama } from "node-llama-cpp";
import { threadCandidates } from "./choose-threads.ts";

/**
 * The CMake options of our source build of llama.cpp (`pnpm --filter @slm/inference llama:build`, opt-in, see
 * docs/llama-source-build.md): ggml's own thread pool instead of OpenMP, so that node-llama-cpp, patched in
 * patches/node-llama-cpp*.patch to keep one persistent pool per context as llama-server does, decodes with it.
 * node-llama-cpp loads a local build only when its options match these (plus any NODE_LLAMA_CPP_CMAKE_OPTION_*
 * variables, as the container images set), and the prebuilt binary otherwise.
 */
export const LLAMA_SOURCE_BUILD_CMAKE_OPTIONS: Readonly<Record<string, string>> = { GGML_OPENMP: "OFF" };

/**
 * Loads llama.cpp: our source build when there is one (above), else the prebuilt CPU binary; never a download or
 * a build. node-llama-cpp first checks the binary in
 * a forked child process (0.5-1 s), so main.ts starts this before resolving the model and the two overlap.
 * `maxThreads` is the most any context may use: the fixed LLAMA_THREADS, or the largest count "auto" will try.
 */
export async function startLlama(threads: number | "auto"): Promise<Llama> {
  const maxThreads = threads === "auto" ? Math.max(...threadCandidates(availableParallelism())) : threads;
  // The forked self-test inherits process.execArgv, and with it our TypeScript loader (`--import tsx`), which it
  // does not need and which costs it ~0.35 s. Nothing else forks during startup; the flags are restored after.
  const execArgv = process.execArgv;
  process.execArgv = withoutTypeScriptLoader(execArgv);
  try {
    return await getLlama({
      gpu: false,
      build: "never",
      cmakeOptions: { ...LLAMA_SOURCE_BUILD_CMAKE_OPTIONS },
      maxThreads,
      logLevel: LlamaLogLevel.error,
      progressLogs: false,
    });
  } finally {
    process.execArgv = execArgv;
  }
}

function withoutTypeScriptLoader(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (/^--(import|loader|require)$/.test(flag) && argv[i + 1] === "tsx") i++;
    else if (!/^--(import|loader|require)=tsx$/.test(flag)) out.push(flag);
  }
  return out;
}
