import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  generateVocabModel,
  llamaSourcePath,
  readLlamaSourceText,
  readTokenizerMetadata,
  tinyLlamaMetadata,
  type GgufMetadata,
} from "@slm/testkit";
import type { FidelityModel } from "./cases.ts";

const cacheDir = fileURLToPath(new URL("../../../../node_modules/.cache/fidelity-models/", import.meta.url));
/** Bump when the generator's output changes, so cached files are rebuilt (and goldens re-recorded). */
const GENERATION = 2;

/**
 * The GGUF file of a fidelity model, generated once (seeded, so always the same bytes) and cached under
 * node_modules/.cache: the recorder and the test suite serve the very same file.
 */
export async function fidelityModelPath(model: FidelityModel): Promise<string> {
  const key = createHash("sha256")
    .update(JSON.stringify({ GENERATION, ...model, kwargs: undefined, extra: undefined, maxTokens: undefined }))
    .digest("hex")
    .slice(0, 16);
  const path = join(cacheDir, `${model.id}-${key}.gguf`);
  if (existsSync(path)) return path;
  const tokenizer =
    model.vocab === "tiny"
      ? tinyTokenizer(model.extraTokens ?? [])
      : await readTokenizerMetadata(await llamaSourcePath(`models/ggml-vocab-${model.vocab}.gguf`));
  const tokens = (tokenizer["tokenizer.ggml.tokens"] as { value: readonly string[] }).value;
  const bytes = generateVocabModel({
    tokenizer,
    favour: model.favour?.map((f) => ({ token: tokens.indexOf(f.token), scale: f.scale })),
    architecture: model.architecture,
    chatTemplate: await readLlamaSourceText(`models/templates/${model.template}`),
    tensorType: model.tensorType,
    name: model.id,
    seed: 7,
  });
  await mkdir(cacheDir, { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, bytes);
  await rename(temporary, path);
  return path;
}

/** The testkit's byte vocabulary with extra control tokens, as tokenizer metadata. */
function tinyTokenizer(extraTokens: readonly string[]): GgufMetadata {
  return Object.fromEntries(
    Object.entries(tinyLlamaMetadata({ extraTokens })).filter(([key]) => key.startsWith("tokenizer.")),
  );
}
