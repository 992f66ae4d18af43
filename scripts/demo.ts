/**
 * `pnpm demo [--model PATH.gguf] [--embeddings] [--verbose]`: the whole stack, fully offline. A fake Hugging Face Hub serves a GGUF
 * from a private repo (token required): a freshly generated tiny llama, or the user's own file with `--model`;
 * inference resolves, downloads, verifies and loads it exactly as it would from the Hub; the gateway fronts it with a
 * generated API key and the browser playground on. Prints the addresses, a ready-to-paste curl command and the same
 * request with the official openai client; `--embeddings` also serves /v1/embeddings for the model (EMBEDDINGS=on) and
 * prints a curl command for it. Ctrl-C stops everything.
 */
import { open, readFile } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startStack } from "@slm/testkit";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    embeddings: { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
  },
  allowPositionals: false,
});
const port = Number(process.env.GATEWAY_PORT ?? 8080);

const own = values.model === undefined ? undefined : await readOwnModel(values.model);
const file = own ? basename(own.path) : "tiny-chat.gguf";
const modelName = file.replace(/\.gguf$/i, "");

console.log(`demo: starting fake Hub, inference and gateway (offline)${own ? ` with ${own.path}` : ""}...`);
const stack = await startStack({
  gatewayPort: port,
  playground: true,
  ...(own ? { gguf: own.bytes, file, repo: `demo-org/${modelName}` } : {}),
  inferenceEnv: {
    ...(own ? { CONTEXT_SIZE: "4096" } : {}),
    // Any model's pooled hidden states (see README "Embeddings"): only meaningful for a model trained for it.
    ...(values.embeddings ? { EMBEDDINGS: "on" } : {}),
  },
  onLine: (service, line) => {
    if (values.verbose) console.log(`[${service}] ${line}`);
  },
});

const body = JSON.stringify({
  model: modelName,
  messages: [{ role: "user", content: "Tell me a story" }],
  max_tokens: 32,
  stream: true,
  stream_options: { include_usage: true },
});
const embeddingsExample = values.embeddings
  ? `
Embeddings (--embeddings; the model's pooled hidden states):

curl ${stack.gatewayUrl}/v1/embeddings \\
  -H "Authorization: Bearer ${stack.apiKey}" \\
  -H "Content-Type: application/json" \\
  -d '${JSON.stringify({ model: modelName, input: ["Once upon a time", "The end"] })}'
`
  : "";
console.log(`
demo: ready.
  gateway    ${stack.gatewayUrl}   (the only address a client needs)
  model      ${modelName}   (served from a private repo on the fake Hub, commit ${stack.commit.slice(0, 12)})
  API key    ${stack.apiKey}
  playground ${stack.playgroundUrl}   (open it in a browser and paste the API key)

Try it with curl:

curl -N ${stack.gatewayUrl}/v1/chat/completions \\
  -H "Authorization: Bearer ${stack.apiKey}" \\
  -H "Content-Type: application/json" \\
  -d '${body}'

or with the official openai client (npm i openai; save as demo.mjs, run node demo.mjs):

import OpenAI from "openai";
const client = new OpenAI({ baseURL: "${stack.gatewayUrl}/v1", apiKey: "${stack.apiKey}" });
for await (const c of await client.chat.completions.create({ model: "${modelName}", messages: [{ role: "user", content: "Tell me a story" }], max_tokens: 32, stream: true })) process.stdout.write(c.choices[0]?.delta?.content ?? "");
${embeddingsExample}
Ctrl-C to stop.`);

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  console.log("\ndemo: stopping...");
  await stack.stop();
  process.exit(0);
};
process.on("SIGINT", () => void shutdown());
process.on("SIGTERM", () => void shutdown());

/** The user's GGUF, checked to be one before anything starts. */
async function readOwnModel(path: string): Promise<{ path: string; bytes: Uint8Array }> {
  const full = resolve(process.env.INIT_CWD ?? process.cwd(), path);
  const fail = (why: string): never => {
    console.error(`demo: --model ${path}: ${why}`);
    process.exit(2);
  };
  const handle = await open(full, "r").catch(() => fail("no such file"));
  const magic = Buffer.alloc(4);
  await handle.read(magic, 0, 4, 0);
  await handle.close();
  if (magic.toString("latin1") !== "GGUF") fail("not a GGUF file (it does not start with the GGUF magic)");
  return { path: full, bytes: new Uint8Array(await readFile(full)) };
}
