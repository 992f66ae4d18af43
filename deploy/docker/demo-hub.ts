/**
 * The offline demo's stand-in for the Hugging Face Hub, run by compose's `demo` profile (image target `fake-hub`):
 * the test kit's fake Hub serving a generated tiny llama (`tiny-chat.gguf`, tag `v1`) from a private repo that only
 * the token in the token file may read, so the stack resolves, downloads and verifies exactly as against the Hub.
 * The token is read from a file (a compose secret), so it shows neither in the container's command line nor in its
 * environment. Listens on $FAKE_HUB_PORT (default 8090) and $FAKE_HUB_CDN_PORT (8091) on loopback.
 */
import { readFileSync } from "node:fs";
import { generateTinyLlama, runFakeHubMain } from "@slm/testkit";

const repo = process.env.DEMO_REPO ?? "demo-org/tiny-chat";
const token = readFileSync(process.env.HF_TOKEN_PATH ?? "/run/secrets/hf_token", "utf8").trim();

await runFakeHubMain({
  seed: (hub) => {
    const commit = hub.addRepo({
      id: repo,
      private: true,
      license: "apache-2.0",
      files: { "tiny-chat.gguf": generateTinyLlama({ seed: 1, name: "tiny-chat" }), "README.md": `# ${repo}\n` },
    });
    hub.tag(repo, "v1", commit);
    if (token !== "") hub.addToken(token, { canRead: [repo] });
    return [repo];
  },
});
