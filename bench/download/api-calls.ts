/**
 * How many Hub API requests one start makes (the Hub's anonymous quota is 500 API requests per 5 minutes per IP, so
 * replicas and CI runners behind one address share it), per configuration: a GGUF model, a PEFT adapter on a GGUF
 * base, and a PEFT adapter on a transformers base (one safetensors file, and sharded in two). Each start is
 * `pnpm models:pull` (the supply chain of a service start, without loading the model) as its own process against the
 * fake Hub, on an empty cache, then once more with the cache full; the fake Hub counts the requests per route.
 * Revisions are tags, no lockfile.
 *
 *   npx tsx bench/download/api-calls.ts
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  generateLoraBase,
  generatePeftAdapter,
  generateTinyLlama,
  generateTransformersModel,
  readDirFiles,
  startFakeHub,
  type RouteLabel,
} from "@slm/testkit";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const TINY = { base: { nLayer: 2, nEmbd: 64, nHead: 4, nHeadKv: 2, nFf: 128 }, seed: 5 };
const hub = await startFakeHub();
const work = await mkdtemp(join(tmpdir(), "bench-api-calls-"));

const tagged = (id: string, files: Record<string, Uint8Array | string>) => {
  hub.tag(id, "v1", hub.addRepo({ id, license: "apache-2.0", files }));
};
tagged("acme/tiny", { "tiny.gguf": generateTinyLlama({ seed: 3 }), "README.md": "# tiny\n" });
tagged("acme/lora-base", { "base.gguf": generateLoraBase({ base: { seed: 3 } }) });
tagged("acme/poet", generatePeftAdapter({ base: { seed: 3 }, seed: 5, baseModelName: "acme/lora-base" }).files);
await generateTransformersModel({ architecture: "LlamaForCausalLM", dir: join(work, "one") });
await generateTransformersModel({ architecture: "LlamaForCausalLM", dir: join(work, "sharded"), shards: 2 });
tagged("meta/tiny-llama", { ...(await readDirFiles(join(work, "one"))), "README.md": "# tiny\n" });
tagged("meta/tiny-sharded", await readDirFiles(join(work, "sharded")));
tagged("acme/poet-tf", generatePeftAdapter({ ...TINY, baseModelName: "meta/tiny-llama" }).files);
tagged("acme/poet-sharded", generatePeftAdapter({ ...TINY, baseModelName: "meta/tiny-sharded" }).files);

const lora = (base: string, adapter: string, baseFile?: string) => ({
  MODEL_TYPE: "lora",
  BASE_MODEL: base,
  BASE_MODEL_VERSION: "v1",
  ...(baseFile ? { BASE_MODEL_FILE: baseFile } : {}),
  LORA_ID: adapter,
  LORA_VERSION: "v1",
});
const scenarios: Array<[string, Record<string, string>]> = [
  ["GGUF model", { MODEL_ID: "acme/tiny", MODEL_VERSION: "v1", MODEL_FILE: "tiny.gguf" }],
  ["PEFT adapter on a GGUF base", lora("acme/lora-base", "acme/poet", "base.gguf")],
  ["PEFT adapter on a transformers base", lora("meta/tiny-llama", "acme/poet-tf")],
  ["PEFT adapter on a sharded transformers base", lora("meta/tiny-sharded", "acme/poet-sharded")],
];

const API: readonly RouteLabel[] = ["model-info", "revision", "refs", "tree", "paths-info", "xet-read-token", "whoami"];
const describeCounts = () => {
  const counts = hub.requestCounts();
  const api = API.filter((route) => counts[route]).map((route) => `${route} ${counts[route]}`);
  return `${hub.apiRequestCount()} API (${api.join(", ")}); ${counts.resolve ?? 0} resolve, ${counts.cdn ?? 0} CDN`;
};

try {
  for (const [name, env] of scenarios) {
    const dir = await mkdtemp(join(work, "start-"));
    const vars = {
      PATH: process.env.PATH,
      HOME: dir,
      HF_ENDPOINT: hub.url,
      HF_HOME: join(dir, "hf-home"),
      MODEL_CACHE_DIR: join(dir, "cache"),
      MODEL_LOCKFILE: "none",
      ...env,
    };
    const lines: string[] = [];
    for (const cache of ["empty cache", "cache full"]) {
      hub.resetLog();
      await run("node", ["--import", "tsx", "apps/inference/src/cli/models-pull.ts"], { cwd: root, env: vars });
      lines.push(`  ${cache}: ${describeCounts()}`);
    }
    console.log(`${name}\n${lines.join("\n")}`);
  }
} finally {
  await hub.close();
  await rm(work, { recursive: true, force: true });
}
