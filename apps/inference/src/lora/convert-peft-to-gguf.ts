import {
  AdapterConfigError,
  moduleScaling,
  pairLoraTensors,
  parseAdapterConfig,
  readSafetensors,
  refuseUnrepresentable,
  reorderRotaryRows,
  type AdapterConfig,
  type LoraPair,
  type SafetensorsFile,
} from "../formats/index.ts";
import { checkAgainstBase, type AdapterPair } from "./check-against-base.ts";
import { ArchitectureMismatchError, InvalidBaseModelError, NonFiniteWeightsError } from "./errors.ts";
import { mapModuleName, type GgufTarget } from "./map-module-name.ts";
import type { BaseModelInfo } from "./read-base-model-info.ts";
import { writeAdapterGguf, type AdapterTensor } from "./write-adapter-gguf.ts";

/** Bumped whenever the bytes this converter writes change, so cached conversions are redone. */
export const CONVERTER_VERSION = 1;

export interface ConvertPeftOptions {
  /** The text or bytes of `adapter_config.json`. */
  adapterConfig: string | Uint8Array;
  /** The bytes of `adapter_model.safetensors`. */
  safetensors: Uint8Array;
  /** The base GGUF's header facts (readBaseModelInfo). */
  base: BaseModelInfo;
  /** Storage type of the written lora_a / lora_b tensors. Default "f32". */
  outType?: "f32" | "f16";
  /** Written as `general.name`. */
  name?: string;
}

/**
 * Base architectures with a name mapping, and whether llama.cpp's converter reordered their q/k rows for RoPE
 * (llama, which Mistral converts to, yes; qwen2, qwen3 and gemma3 use NEOX RoPE and keep the Hugging Face order).
 */
const ROTARY_REORDER: Readonly<Record<string, boolean>> = { llama: true, qwen2: false, qwen3: false, gemma3: false };

const F16_LIMIT = 65520; // from here on a value narrows to Infinity

interface ModuleTensors extends LoraPair {
  target: GgufTarget;
}

/**
 * Converts a PEFT LoRA adapter to llama.cpp's GGUF adapter format (see docs/lora-format.md): name mapping,
 * rotary reorder of q/k lora_B on llama bases, transposed embedding A, rsLoRA and per-module rank/alpha folded
 * into B, shapes checked against the base. Throws a LoraError (or a formats/ error for the adapter files themselves)
 * for anything llama.cpp cannot represent.
 */
export function convertPeftToGguf(options: ConvertPeftOptions): Uint8Array {
  const { base, outType = "f32" } = options;
  const config = parseAdapterConfig(options.adapterConfig);
  refuseUnrepresentable(config);
  const reorder = ROTARY_REORDER[base.architecture];
  if (reorder === undefined) {
    throw new ArchitectureMismatchError(
      `the base model's architecture "${base.architecture}" has no PEFT name mapping (supported: llama, mistral as llama, qwen2, qwen3, gemma3)`,
    );
  }

  const file = readSafetensors(options.safetensors);
  const modules = groupByModule(file, config);
  const shapeOf = (name: string) => file.tensors.get(name)!.shape;
  const pairs: AdapterPair[] = [...modules.values()].map(({ target, a, b }) => ({
    tensor: target.tensor,
    // Row-major (r, in) and (out, r) read as GGUF dims are [in, r] and [r, out]. The embedding A (r, vocab) is
    // stored transposed, which as GGUF dims is [r, vocab].
    a: target.embedding ? [...shapeOf(a!)] : [...shapeOf(a!)].reverse(),
    b: [...shapeOf(b!)].reverse(),
  }));
  checkAgainstBase(pairs, base);

  const converted = new Map<string, AdapterTensor[]>();
  for (const [module, { target, a, b }] of modules) {
    const [rank, inputs] = shapeOf(a!) as [number, number];
    const [outputs] = shapeOf(b!) as [number];
    const scaling = moduleScaling(config, module);
    if (scaling.rank !== rank) {
      throw new AdapterConfigError(`${module} has rank ${rank} in the weights but ${scaling.rank} in the config`);
    }
    let loraA = finite(file.read(a!), a!);
    let loraB = finite(file.read(b!), b!);
    // llama.cpp applies alpha / rank with the file's single alpha; give B the rest of PEFT's scaling.
    const fold = (scaling.scale * rank) / Math.fround(config.loraAlpha);
    if (fold !== 1) loraB = loraB.map((value) => value * fold);
    if (reorder && target.rotary) loraB = reorderRotaryRows(loraB, rank, headsFor(target.rotary, base));
    if (target.embedding) loraA = transpose(loraA, rank, inputs);
    if (outType === "f16") {
      fitsFloat16(loraA, a!);
      fitsFloat16(loraB, b!);
    }
    converted.set(target.tensor, [
      { name: `${target.tensor}.lora_a`, dims: target.embedding ? [rank, inputs] : [inputs, rank], data: loraA },
      { name: `${target.tensor}.lora_b`, dims: [rank, outputs], data: loraB },
    ]);
  }

  // Written in the base's tensor order, so the output does not depend on the safetensors key order.
  const tensors = [...base.tensors.keys()].flatMap((name) => converted.get(name) ?? []);
  return writeAdapterGguf({
    metadata: {
      "general.architecture": base.architecture,
      "general.type": "adapter",
      ...(options.name === undefined ? {} : { "general.name": options.name }),
      "adapter.type": "lora",
      "adapter.lora.alpha": config.loraAlpha,
      "slm.lora.converter": `peft-to-gguf/${CONVERTER_VERSION}`,
    },
    tensors,
    type: outType,
  });
}

/** The adapter's pairs with the llama.cpp tensor each one targets. */
function groupByModule(file: SafetensorsFile, config: AdapterConfig): Map<string, ModuleTensors> {
  const pairs = pairLoraTensors(file, config, (module, embedding) => mapModuleName(module)?.embedding === embedding);
  return new Map([...pairs].map(([module, pair]) => [module, { ...pair, target: mapModuleName(module)! }]));
}

function headsFor(rotary: "q" | "k", base: BaseModelInfo): number {
  const heads = rotary === "q" ? base.headCount : base.headCountKv;
  if (heads === undefined) {
    throw new InvalidBaseModelError(
      `the base GGUF has no ${base.architecture}.attention.head_count${rotary === "k" ? "_kv" : ""}`,
    );
  }
  return heads;
}

/** (rows, columns) row-major -> (columns, rows) row-major. */
function transpose(matrix: Float32Array, rows: number, columns: number): Float32Array {
  const out = new Float32Array(matrix.length);
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) out[column * rows + row] = matrix[row * columns + column]!;
  }
  return out;
}

function finite(values: Float32Array, tensor: string): Float32Array {
  if (!values.every(Number.isFinite))
    throw new NonFiniteWeightsError(`tensor ${tensor} contains NaN or infinite values`);
  return values;
}

function fitsFloat16(values: Float32Array, tensor: string): void {
  if (values.some((value) => Math.abs(value) >= F16_LIMIT)) {
    throw new NonFiniteWeightsError(`tensor ${tensor} exceeds the float16 range once scaled; convert with F32 output`);
  }
}
