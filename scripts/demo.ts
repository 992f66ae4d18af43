/**
 * `pnpm demo`: the whole stack, fully offline. A fake Hugging Face Hub serves a freshly generated tiny llama GGUF
 * from a private repo (token required); inference resolves, downloads, verifies and loads it; the gateway fronts it
 * with a generated API key and the browser playground on. Prints the playground's address and a ready-to-paste curl
 * command; Ctrl-C stops everything.
 */
import { startStack } from "@slm/testkit";

const port = Number(process.env.GATEWAY_PORT ?? 8080);
const verbose = process.argv.includes("--verbose");

console.log("demo: starting fake Hub, inference and gateway (offline)...");
const stack = await startStack({
  gatewayPort: port,
  playground: true,
  onLine: (service, line) => {
    if (verbose) console.log(`[${service}] ${line}`);
  },
});

const body = JSON.stringify({
  model: "tiny-chat",
  messages: [{ role: "user", content: "Tell me a story" }],
  max_tokens: 32,
  stream: true,
  stream_options: { include_usage: true },
});
console.log(`
demo: ready.
  gateway    ${stack.gatewayUrl}   (the only address a client needs)
  model      tiny-chat   (served from a private repo on the fake Hub, commit ${stack.commit.slice(0, 12)})
  API key    ${stack.apiKey}
  playground ${stack.playgroundUrl}   (open it in a browser and paste the API key)

Try it:

curl -N ${stack.gatewayUrl}/v1/chat/completions \\
  -H "Authorization: Bearer ${stack.apiKey}" \\
  -H "Content-Type: application/json" \\
  -d '${body}'

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
