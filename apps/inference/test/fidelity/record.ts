/**
 * `pnpm fidelity:record`: serves every fidelity model with llama.cpp's own llama-server (LLAMA_SERVER, built from
 * the source node-llama-cpp bundles as the README describes) and records, per case, the prompt it renders, the
 * prompt token ids it evaluates and its greedy answer into goldens/<model>.json; then renders every chat template of
 * the bundled source (models/templates/) with a few conversations into goldens/templates.json. The test suite
 * compares inference with these files, so CI never needs a llama.cpp build. Arguments: only these model ids (and
 * `templates` for the template goldens).
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  generateVocabModel,
  hasLlamaServer,
  LLAMA_SERVER,
  listLlamaSourceFiles,
  llamaSourcePath,
  readTokenizerMetadata,
  startLlamaServer,
} from "@slm/testkit";
import { answerCase } from "./answer.ts";
import { casesFor, FIDELITY_MODELS, type FidelityAnswer, type FidelityGolden } from "./cases.ts";
import { fidelityModelPath } from "./models.ts";
import { TEMPLATE_CASES, TEMPLATE_VOCAB, type TemplateGolden } from "./template-cases.ts";

const goldensDir = fileURLToPath(new URL("./goldens/", import.meta.url));

if (!hasLlamaServer()) {
  console.error(`fidelity:record: no llama-server at ${LLAMA_SERVER}; build it as the README says or set LLAMA_SERVER`);
  process.exit(1);
}
const versionOutput = spawnSync(LLAMA_SERVER, ["--version"], { encoding: "utf8" });
const version = `${versionOutput.stdout}${versionOutput.stderr}`.match(/^version: (.*)$/m)?.[1] ?? "unknown version";
const only = process.argv.slice(2);

for (const model of FIDELITY_MODELS.filter((m) => only.length === 0 || only.includes(m.id))) {
  const server = await startLlamaServer({
    modelPath: await fidelityModelPath(model),
    threads: 1,
    parallel: 1,
    contextSize: 4096,
    args: ["--jinja", "--no-webui"],
  });
  try {
    const answers: FidelityAnswer[] = [];
    for (const fidelityCase of casesFor(model)) {
      const { usagePromptTokens, ...answer } = await answerCase(server.url, fidelityCase);
      check(usagePromptTokens === answer.promptTokens.length, `${fidelityCase.name}: prompt tokens`);
      answers.push(answer);
    }
    const golden: FidelityGolden = { model, recordedWith: `llama-server ${version}`, answers };
    await writeFile(`${goldensDir}${model.id}.json`, `${JSON.stringify(golden, null, 2)}\n`);
    console.log(`fidelity:record: ${model.id}: ${answers.length} cases`);
  } finally {
    await server.stop();
  }
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`fidelity:record: llama-server's usage disagrees with its own /tokenize (${what})`);
}

if (only.length === 0 || only.includes("templates")) await recordTemplates();

/** Every bundled template, each served by llama-server (`--chat-template-file`) and asked for /apply-template. */
async function recordTemplates(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "fidelity-templates-"));
  const modelPath = join(dir, "vocab.gguf");
  const tokenizer = await readTokenizerMetadata(await llamaSourcePath(`models/ggml-vocab-${TEMPLATE_VOCAB}.gguf`));
  await writeFile(modelPath, generateVocabModel({ tokenizer, architecture: "llama", chatTemplate: null, nLayer: 1 }));
  const golden: TemplateGolden = {
    recordedWith: `llama-server ${version}`,
    recordedAt: new Date().toISOString(),
    prompts: {},
  };
  for (const file of (await listLlamaSourceFiles("models/templates")).filter((f) => f.endsWith(".jinja"))) {
    const templatePath = await llamaSourcePath(`models/templates/${file}`);
    const server = await startLlamaServer({
      modelPath,
      threads: 1,
      parallel: 1,
      contextSize: 2048,
      args: ["--jinja", "--chat-template-file", templatePath],
    });
    try {
      golden.prompts[file] = {};
      for (const { name, body } of TEMPLATE_CASES) {
        const response = await fetch(`${server.url}/apply-template`, { method: "POST", body: JSON.stringify(body) });
        golden.prompts[file]![name] = response.ok
          ? ((await response.json()) as { prompt: string }).prompt
          : { error: response.status };
      }
    } finally {
      await server.stop();
    }
  }
  await writeFile(`${goldensDir}templates.json`, `${JSON.stringify(golden, null, 2)}\n`);
  console.log(
    `fidelity:record: templates: ${Object.keys(golden.prompts).length} templates x ${TEMPLATE_CASES.length} conversations`,
  );
}
