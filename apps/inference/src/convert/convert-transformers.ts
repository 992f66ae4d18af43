import { open, readFile } from "node:fs/promises";
import {
  encodeF16,
  encodeF32,
  encodeGgufHeader,
  encodeQ8_0,
  float16BitsToNumber,
  reorderRotaryRows,
  toFloat16Bits,
  type GgmlTensorType,
  type GgufValue,
} from "../formats/index.ts";
import { ggufTensorName, planArchitecture, requiredTensors, type ArchitecturePlan } from "./architectures.ts";
import { convertTokenizer } from "./convert-tokenizer.ts";
import {
  InvalidModelConfigError,
  MergeAdapterError,
  MissingModelFileError,
  TensorShapeError,
  UnexpectedTensorError,
} from "./errors.ts";
import { addDelta, readAdapterForMerge, type MergeDelta } from "./merge-adapter.ts";
import { openWeightShards, type WeightShards, type WeightTensor } from "./read-weight-shards.ts";

/**
 * transformers → GGUF in TypeScript, following llama.cpp's convert_hf_to_gguf.py. Hand-written: no JavaScript library
 * converts Hugging Face checkpoints to GGUF (llama.cpp's converter is Python and needs torch). Tensors are streamed
 * one slice of rows at a time from the shards to the output, so memory stays bounded whatever the model size.
 */

/** Bumped whenever the bytes this converter writes change, so cached conversions are redone. */
export const TRANSFORMERS_CONVERTER_VERSION = 1;

export type TransformersOutType = "q8_0" | "f16";

export interface ConvertTransformersOptions {
  /** Repository-relative file name → local path (config.json, weights, tokenizer files; see transformersFilesToFetch). */
  files: Readonly<Record<string, string>>;
  /** Storage type of the weight matrices (norms, biases and other 1-D tensors stay F32, as llama.cpp does). */
  outType: TransformersOutType;
  /** LORA_MERGE: a PEFT adapter folded into the weights (W += scale · B·A) before they are quantized. */
  merge?: { adapterConfigPath: string; safetensorsPath: string };
  /** `general.name`. */
  name?: string;
}

export interface PreparedConversion {
  /** The GGUF architecture, tensor count and output size, for logs. */
  architecture: string;
  tensorCount: number;
  fileSize: number;
  /** Writes the GGUF file at `path` (creating or truncating it); `onProgress` gets source bytes done and total. */
  write(path: string, onProgress?: (done: number, total: number) => void): Promise<void>;
  /** Releases the open shards (write does it too). */
  close(): Promise<void>;
}

interface OutputTensor {
  name: string;
  type: GgmlTensorType;
  rows: number;
  columns: number;
  dims: number[];
  source?: WeightTensor;
  /** rope_freqs: computed, not read. */
  values?: Float32Array;
  /** Row permutation for Llama's RoPE: the number of heads. */
  permuteHeads?: number;
  shift: number;
  delta?: MergeDelta;
}

const CHUNK_ELEMENTS = 1 << 22; // 16 MiB of float32 per slice

/** Converts in one go (see prepareTransformersConversion). */
export async function convertTransformersToGguf(
  options: ConvertTransformersOptions & { outPath: string; onProgress?: (done: number, total: number) => void },
): Promise<void> {
  const prepared = await prepareTransformersConversion(options);
  await prepared.write(options.outPath, options.onProgress);
}

/**
 * Reads and checks everything but the tensor data — config, tokenizer, shard headers, the adapter to merge — so a
 * refusal happens before any output exists.
 */
export async function prepareTransformersConversion(options: ConvertTransformersOptions): Promise<PreparedConversion> {
  const json = async (name: string, required: boolean): Promise<Record<string, unknown> | undefined> => {
    const path = options.files[name];
    if (path === undefined) {
      if (required) throw new MissingModelFileError(name);
      return undefined;
    }
    const text = await readFile(path, "utf8").catch(() => {
      throw new MissingModelFileError(name);
    });
    try {
      const value = JSON.parse(text) as unknown;
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error();
      return value as Record<string, unknown>;
    } catch {
      throw new InvalidModelConfigError(name, "not a JSON object");
    }
  };
  const bytes = async (name: string) => {
    const path = options.files[name];
    return path === undefined
      ? undefined
      : new Uint8Array(
          await readFile(path).catch(() => {
            throw new MissingModelFileError(name);
          }),
        );
  };
  const config = (await json("config.json", true))!;
  const plan = planArchitecture(config);
  const chatTemplatePath = options.files["chat_template.jinja"];
  const tokenizer = convertTokenizer(
    {
      config,
      tokenizerJson: await json("tokenizer.json", false),
      tokenizerModel: await bytes("tokenizer.model"),
      tokenizerConfig: await json("tokenizer_config.json", false),
      generationConfig: await json("generation_config.json", false),
      chatTemplateJinja: chatTemplatePath === undefined ? undefined : await readFile(chatTemplatePath, "utf8"),
    },
    { architecture: plan.ggufArchitecture },
  );

  const index =
    options.files["model.safetensors.index.json"] === undefined
      ? undefined
      : await json("model.safetensors.index.json", true);
  const shards = await openWeightShards(options.files, index);
  try {
    const shapes = new Map([...shards.tensors].map(([name, tensor]) => [name, tensor.shape]));
    let deltas = new Map<string, MergeDelta>();
    if (options.merge) {
      const [adapterConfig, adapterWeights] = await Promise.all([
        readFile(options.merge.adapterConfigPath),
        readFile(options.merge.safetensorsPath),
      ]).catch(() => {
        throw new MissingModelFileError("adapter_config.json or adapter_model.safetensors");
      });
      deltas = readAdapterForMerge(adapterConfig, adapterWeights, shapes);
      if (deltas.has("model.embed_tokens.weight") && !shards.tensors.has("lm_head.weight")) {
        throw new MergeAdapterError(
          "the base ties its output to the embeddings, so an embed_tokens LoRA cannot be merged into it",
        );
      }
    }
    const tensors = planTensors(plan, shards, tokenizer.tokenCount, options.outType, deltas);
    const metadata: Record<string, GgufValue> = {
      "general.architecture": { type: "string", value: plan.ggufArchitecture },
      "general.type": { type: "string", value: "model" },
      ...(options.name === undefined ? {} : { "general.name": { type: "string", value: options.name } }),
      ...plan.metadata,
      "general.file_type": { type: "uint32", value: options.outType === "q8_0" ? 7 : 1 },
      "general.quantization_version": { type: "uint32", value: 2 },
      ...tokenizer.metadata,
    };
    const header = encodeGgufHeader(metadata, tensors);
    return {
      architecture: plan.ggufArchitecture,
      tensorCount: tensors.length,
      fileSize: header.fileSize,
      write: async (path, onProgress) => {
        try {
          await writeTensors(path, header.bytes, header.sizes, tensors, shards, onProgress);
        } finally {
          await shards.close();
        }
      },
      close: () => shards.close(),
    };
  } catch (error) {
    await shards.close();
    throw error;
  }
}

function planTensors(
  plan: ArchitecturePlan,
  shards: WeightShards,
  tokenCount: number,
  outType: TransformersOutType,
  deltas: ReadonlyMap<string, MergeDelta>,
): OutputTensor[] {
  const out: OutputTensor[] = [];
  if (plan.ropeFreqs) {
    out.push({
      name: "rope_freqs.weight",
      type: "f32",
      rows: 1,
      columns: plan.ropeFreqs.length,
      dims: [plan.ropeFreqs.length],
      values: plan.ropeFreqs,
      shift: 0,
    });
  }
  const unexpected: string[] = [];
  for (const [name, source] of shards.tensors) {
    const target = ggufTensorName(plan, name);
    if (target === undefined) continue;
    if (target === null) {
      unexpected.push(name);
      continue;
    }
    const shape = source.shape;
    if (shape.length < 1 || shape.length > 2) throw new TensorShapeError(`${name} has ${shape.length} dimensions`);
    let rows = shape.length === 2 ? shape[0]! : 1;
    const columns = shape[shape.length - 1]!;
    if (target === "token_embd.weight" || target === "output.weight") {
      if (columns !== plan.hidden)
        throw new TensorShapeError(`${name} is [${shape.join(", ")}], not [vocab, ${plan.hidden}]`);
      if (target === "token_embd.weight" && plan.trimEmbeddings) rows = Math.min(rows, tokenCount);
      if (rows !== tokenCount) throw new TensorShapeError(`${name} has ${rows} rows for ${tokenCount} tokens`);
    }
    let permuteHeads: number | undefined;
    if (plan.permuteQK && /\.self_attn\.[qk]_proj\.(weight|bias)$/.test(name)) {
      permuteHeads = name.includes(".q_proj.") ? plan.heads : plan.kvHeads;
      const length = shape.length === 2 ? rows : columns;
      if (length !== permuteHeads * plan.headDim)
        throw new TensorShapeError(`${name} has ${length} rows for ${permuteHeads} heads of ${plan.headDim}`);
    }
    const oneDimensional = shape.length === 1;
    const keepF32 = oneDimensional || target.endsWith("_norm.weight") || !target.endsWith(".weight");
    const type: GgmlTensorType = keepF32 ? "f32" : outType === "q8_0" && columns % 32 === 0 ? "q8_0" : "f16";
    const delta = deltas.get(name);
    out.push({
      name: target,
      type,
      rows: oneDimensional ? 1 : rows,
      columns,
      dims: oneDimensional ? [columns] : [columns, rows],
      source,
      ...(permuteHeads === undefined ? {} : { permuteHeads }),
      shift: name.endsWith("norm.weight") ? plan.normShift : 0,
      ...(delta ? { delta } : {}),
    });
  }
  if (unexpected.length > 0) throw new UnexpectedTensorError(unexpected);
  const written = new Set(out.map((tensor) => tensor.name));
  const missing = requiredTensors(plan).filter((name) => !written.has(name));
  if (missing.length > 0)
    throw new TensorShapeError(
      `missing ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ` and ${missing.length - 5} more` : ""}`,
    );
  return out;
}

async function writeTensors(
  path: string,
  header: Uint8Array,
  sizes: readonly { bytes: number; padded: number }[],
  tensors: readonly OutputTensor[],
  shards: WeightShards,
  onProgress?: (done: number, total: number) => void,
): Promise<void> {
  const total = tensors.reduce((sum, tensor) => sum + tensor.rows * tensor.columns, 0);
  let done = 0;
  const handle = await open(path, "w");
  try {
    await handle.write(header);
    for (const [index, tensor] of tensors.entries()) {
      let written = 0;
      for await (const values of tensorSlices(tensor, shards)) {
        const encoded =
          tensor.type === "f32" ? encodeF32(values) : tensor.type === "f16" ? encodeF16(values) : encodeQ8_0(values);
        await handle.write(encoded);
        written += encoded.length;
        done += values.length;
        onProgress?.(done, total);
      }
      const padding = sizes[index]!.padded - written;
      if (written !== sizes[index]!.bytes || padding < 0)
        throw new Error(`internal: ${tensor.name} wrote ${written} of ${sizes[index]!.bytes} bytes`);
      if (padding > 0) await handle.write(new Uint8Array(padding));
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A tensor's values as written, in slices of whole rows (whole heads for permuted q/k), transformed. */
async function* tensorSlices(tensor: OutputTensor, shards: WeightShards): AsyncGenerator<Float32Array> {
  if (tensor.values) {
    yield tensor.values;
    return;
  }
  const source = tensor.source!;
  const { rows, columns } = tensor;
  // A 1-D tensor (q/k biases) is one row per element for the permutation.
  const permuteRows = tensor.rows === 1 ? columns : rows;
  const headRows = tensor.permuteHeads === undefined ? 1 : permuteRows / tensor.permuteHeads;
  const rowsPerSlice =
    tensor.rows === 1 ? 1 : Math.max(headRows, Math.floor(CHUNK_ELEMENTS / columns / headRows) * headRows);
  for (let first = 0; first < rows; first += rowsPerSlice) {
    const count = Math.min(rowsPerSlice, rows - first);
    const values = await shards.read(source, first * columns, count * columns);
    if (tensor.delta) addDelta(values, first, columns, tensor.delta);
    if (tensor.shift !== 0) {
      // llama.cpp adds in the stored precision: F16 stays F16 through torch's add, BF16 was widened to F32 first.
      for (let i = 0; i < values.length; i++) {
        const shifted = Math.fround(values[i]! + tensor.shift);
        values[i] = source.dtype === "F16" ? float16Value(shifted) : shifted;
      }
    }
    if (tensor.permuteHeads === undefined) yield values;
    else if (tensor.rows === 1) yield reorderRotaryRows(values, 1, tensor.permuteHeads);
    else yield reorderRotaryRows(values, columns, count / headRows);
  }
}

/** The float16 value nearest to x (as torch rounds an F16 add). */
function float16Value(x: number): number {
  return float16BitsToNumber(toFloat16Bits(x));
}
