import { spawn } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readRealTokenizer } from "@slm/testkit";
import { convertTransformersToGguf } from "@slm/inference/convert";

/**
 * Peak memory of the transformers → GGUF conversion on a 1B-parameter model shaped like Llama 3.2 1B (hidden 2048,
 * 16 layers, 32 heads / 8 KV heads, FFN 8192, the 128256-token Llama 3 vocabulary, tied embeddings, BF16 in two
 * shards, ~2.5 GB): the checkpoint is generated once in the temp folder (random weights), then converted in a child
 * process under `/usr/bin/time -v`, whose "Maximum resident set size" is reported with the time taken.
 *
 *   pnpm bench:convert [--out-type q8_0|f16] [--keep]
 */
const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};

if (args[0] === "--convert-only") {
  const [, folder, out, outType] = args as [string, string, string, "q8_0" | "f16"];
  const files = Object.fromEntries((await readdir(folder)).map((name) => [name, join(folder, name)]));
  await convertTransformersToGguf({ files, outType, outPath: out });
  process.exit(0);
}

const SHAPE = { hidden: 2048, layers: 16, heads: 32, kvHeads: 8, ff: 8192, vocab: 128256 };
const folder = join(tmpdir(), "slm-bench-convert-llama-1b");
const outType = arg("out-type", "q8_0");

if (!existsSync(join(folder, "model.safetensors.index.json"))) await generate(folder);
const out = join(tmpdir(), `slm-bench-convert-llama-1b.${outType}.gguf`);
const script = fileURLToPath(import.meta.url);
const started = Date.now();
const report = await new Promise<string>((resolve, reject) => {
  const child = spawn(
    "/usr/bin/time",
    ["-v", process.execPath, "--import", "tsx", script, "--convert-only", folder, out, outType],
    { stdio: ["ignore", "inherit", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.on("exit", (code) =>
    code === 0 ? resolve(stderr) : reject(new Error(`conversion failed (${code}):\n${stderr}`)),
  );
});
const seconds = (Date.now() - started) / 1000;
const rssKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(report)?.[1]);
const inputBytes = (
  await Promise.all((await readdir(folder)).map(async (name) => (await stat(join(folder, name))).size))
).reduce((a, b) => a + b, 0);
console.log(
  JSON.stringify({
    parameters: parameterCount(),
    inputGB: +(inputBytes / 1e9).toFixed(2),
    outType,
    outputGB: +((await stat(out)).size / 1e9).toFixed(2),
    seconds: +seconds.toFixed(1),
    peakRssMB: Math.round(rssKb / 1024),
  }),
);
if (!args.includes("--keep")) await rm(out, { force: true });

function parameterCount(): number {
  const { hidden, layers, heads, kvHeads, ff, vocab } = SHAPE;
  const headDim = hidden / heads;
  const perLayer = 2 * hidden + hidden * hidden * 2 + 2 * hidden * kvHeads * headDim + 3 * hidden * ff;
  return vocab * hidden + layers * perLayer + hidden;
}

/** Writes the checkpoint tensor by tensor (never more than a few MB in memory), values from a seeded pool. */
async function generate(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const { hidden, layers, heads, kvHeads, ff, vocab } = SHAPE;
  const headDim = hidden / heads;
  const tensors: { name: string; shape: number[] }[] = [{ name: "model.embed_tokens.weight", shape: [vocab, hidden] }];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    tensors.push(
      { name: `${p}.input_layernorm.weight`, shape: [hidden] },
      { name: `${p}.self_attn.q_proj.weight`, shape: [hidden, hidden] },
      { name: `${p}.self_attn.k_proj.weight`, shape: [kvHeads * headDim, hidden] },
      { name: `${p}.self_attn.v_proj.weight`, shape: [kvHeads * headDim, hidden] },
      { name: `${p}.self_attn.o_proj.weight`, shape: [hidden, hidden] },
      { name: `${p}.post_attention_layernorm.weight`, shape: [hidden] },
      { name: `${p}.mlp.gate_proj.weight`, shape: [ff, hidden] },
      { name: `${p}.mlp.up_proj.weight`, shape: [ff, hidden] },
      { name: `${p}.mlp.down_proj.weight`, shape: [hidden, ff] },
    );
  }
  tensors.push({ name: "model.norm.weight", shape: [hidden] });
  // A pool of BF16 values ~ N(0, 0.02), cycled with a moving offset.
  const pool = new Uint16Array(1 << 20);
  let state = 12345;
  const scratch = new DataView(new ArrayBuffer(4));
  for (let i = 0; i < pool.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    scratch.setFloat32(0, ((state / 2 ** 32) * 2 - 1) * 0.035);
    pool[i] = scratch.getUint32(0) >>> 16;
  }
  const shards = [tensors.slice(0, 1 + 8 * 9), tensors.slice(1 + 8 * 9)];
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  for (const [index, shard] of shards.entries()) {
    const file = `model-0000${index + 1}-of-00002.safetensors`;
    const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
    let offset = 0;
    for (const { name, shape } of shard) {
      const bytes = shape.reduce((a, b) => a * b, 1) * 2;
      header[name] = { dtype: "BF16", shape, data_offsets: [offset, offset + bytes] };
      weightMap[name] = file;
      offset += bytes;
    }
    totalSize += offset;
    const json = Buffer.from(JSON.stringify(header));
    const padded = Buffer.alloc(Math.ceil(json.length / 8) * 8, 0x20);
    json.copy(padded);
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(padded.length));
    const stream = createWriteStream(join(dir, file));
    const write = (chunk: Uint8Array) =>
      new Promise<void>((resolve, reject) => stream.write(chunk, (error) => (error ? reject(error) : resolve())));
    await write(length);
    await write(padded);
    let cursor = 0;
    for (const { name, shape } of shard) {
      let remaining = shape.reduce((a, b) => a * b, 1);
      const norm = name.endsWith("norm.weight");
      while (remaining > 0) {
        const count = Math.min(remaining, 1 << 20);
        const chunk = new Uint16Array(count);
        if (norm)
          chunk.fill(0x3f80); // 1.0
        else for (let i = 0; i < count; i++) chunk[i] = pool[(cursor + i * 7) & (pool.length - 1)]!;
        cursor = (cursor + 99991) & (pool.length - 1);
        await write(new Uint8Array(chunk.buffer));
        remaining -= count;
      }
    }
    await new Promise<void>((resolve) => stream.end(resolve));
  }
  await writeFile(
    join(dir, "model.safetensors.index.json"),
    JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }),
  );
  const { tokenizerJson, tokenizerConfig } = await readRealTokenizer("llama3");
  await writeFile(join(dir, "tokenizer.json"), JSON.stringify(tokenizerJson));
  await writeFile(join(dir, "tokenizer_config.json"), JSON.stringify(tokenizerConfig));
  await writeFile(
    join(dir, "config.json"),
    JSON.stringify({
      architectures: ["LlamaForCausalLM"],
      model_type: "llama",
      hidden_size: hidden,
      intermediate_size: ff,
      num_hidden_layers: layers,
      num_attention_heads: heads,
      num_key_value_heads: kvHeads,
      head_dim: headDim,
      max_position_embeddings: 131072,
      rms_norm_eps: 1e-5,
      rope_theta: 500000,
      rope_scaling: {
        factor: 32,
        high_freq_factor: 4,
        low_freq_factor: 1,
        original_max_position_embeddings: 8192,
        rope_type: "llama3",
      },
      tie_word_embeddings: true,
      vocab_size: vocab,
      bos_token_id: 128000,
      eos_token_id: 128001,
      torch_dtype: "bfloat16",
    }),
  );
}
