import { open, type FileHandle } from "node:fs/promises";
import {
  BYTES_PER_ELEMENT,
  decodeSafetensorsData,
  headerLength,
  parseSafetensorsHeader,
  SafetensorsFormatError,
  type SafetensorsDtype,
} from "../formats/index.ts";
import {
  InvalidModelConfigError,
  InvalidWeightsFileError,
  MissingModelFileError,
  UnsupportedDtypeError,
} from "./errors.ts";

/** One tensor of a transformers checkpoint: where its bytes are, never the bytes themselves. */
export interface WeightTensor {
  name: string;
  /** Repository-relative name of the shard holding it. */
  file: string;
  dtype: SafetensorsDtype;
  shape: readonly number[];
  /** Absolute byte offset of its first element in the shard. */
  offset: number;
}

export interface WeightShards {
  /** In checkpoint order (shards in index order, tensors in header order). */
  tensors: ReadonlyMap<string, WeightTensor>;
  /** `count` elements from element `first` of the tensor, widened to float32. */
  read(tensor: WeightTensor, first: number, count: number): Promise<Float32Array>;
  close(): Promise<void>;
}

/**
 * Opens the safetensors weights of a transformers model — `model.safetensors`, or the shards a
 * `model.safetensors.index.json` lists — reading only their headers; tensor data is read on demand at its offset, so
 * memory stays bounded whatever the model size.
 */
export async function openWeightShards(
  files: Readonly<Record<string, string>>,
  indexJson?: unknown,
): Promise<WeightShards> {
  const shardNames = indexJson === undefined ? ["model.safetensors"] : shardsOfIndex(indexJson);
  const handles = new Map<string, FileHandle>();
  const tensors = new Map<string, WeightTensor>();
  try {
    for (const file of shardNames) {
      const path = files[file];
      if (path === undefined) throw new MissingModelFileError(file);
      const handle = await open(path, "r").catch(() => {
        throw new MissingModelFileError(file);
      });
      handles.set(file, handle);
      const { size } = await handle.stat();
      try {
        const first8 = new Uint8Array(8);
        await handle.read(first8, 0, 8, 0);
        const length = headerLength(first8, size);
        if (8 + length > size)
          throw new SafetensorsFormatError(
            `the header claims ${length} bytes but the file is ${size} bytes (truncated?)`,
          );
        const header = new Uint8Array(length);
        await handle.read(header, 0, length, 8);
        for (const [name, entry] of parseSafetensorsHeader(header, size - 8 - length).tensors) {
          if (tensors.has(name)) throw new SafetensorsFormatError(`tensor ${name} is stored twice`);
          tensors.set(name, { name, file, dtype: entry.dtype, shape: entry.shape, offset: 8 + length + entry.begin });
        }
      } catch (error) {
        if (error instanceof SafetensorsFormatError) {
          const dtype = /tensor (\S+) has dtype (\S+);/.exec(error.message);
          if (dtype) throw new UnsupportedDtypeError(dtype[1]!, dtype[2]!);
          throw new InvalidWeightsFileError(file, error.message.replace(/^[^:]+: /, ""));
        }
        throw error;
      }
    }
    if (indexJson !== undefined) checkWeightMap(indexJson, tensors);
  } catch (error) {
    await Promise.all([...handles.values()].map((handle) => handle.close()));
    throw error;
  }
  return {
    tensors,
    async read(tensor, first, count) {
      const size = BYTES_PER_ELEMENT[tensor.dtype];
      const bytes = new Uint8Array(count * size);
      const { bytesRead } = await handles.get(tensor.file)!.read(bytes, 0, bytes.length, tensor.offset + first * size);
      if (bytesRead !== bytes.length)
        throw new InvalidWeightsFileError(tensor.file, `tensor ${tensor.name} is truncated`);
      return decodeSafetensorsData(bytes, tensor.dtype);
    },
    async close() {
      await Promise.all([...handles.values()].map((handle) => handle.close()));
    },
  };
}

/** The shard file names of a `model.safetensors.index.json`, in first-use order. */
export function shardsOfIndex(indexJson: unknown): string[] {
  const map = (indexJson as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== "object" || map === null || Array.isArray(map))
    throw new InvalidModelConfigError("model.safetensors.index.json", "weight_map is missing");
  const names = [...new Set(Object.values(map as Record<string, unknown>))];
  if (names.length === 0 || !names.every((name) => typeof name === "string" && /^[^/\\]+\.safetensors$/.test(name))) {
    throw new InvalidModelConfigError(
      "model.safetensors.index.json",
      "weight_map must name .safetensors files at the top of the repository",
    );
  }
  return names as string[];
}

function checkWeightMap(indexJson: unknown, tensors: Map<string, WeightTensor>): void {
  const map = (indexJson as { weight_map: Record<string, string> }).weight_map;
  for (const [name, file] of Object.entries(map)) {
    const tensor = tensors.get(name);
    if (!tensor || tensor.file !== file)
      throw new InvalidModelConfigError("model.safetensors.index.json", `tensor ${name} is not in ${file}`);
  }
}
