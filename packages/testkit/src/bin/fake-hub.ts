/**
 * `pnpm fake-hub -- --repo org/name=/path/to/dir [--private] [--token hf_xxx]`
 *
 * Starts the fake Hugging Face Hub on $FAKE_HUB_PORT (default 8090) and its CDN on $FAKE_HUB_CDN_PORT
 * (default 8091), prints one JSON line per seeded repo, and runs until SIGINT/SIGTERM.
 * To seed programmatically (e.g. a generated GGUF), call `runFakeHubMain({ seed })` from another script.
 */
import { runFakeHubMain } from "../fake-hub/command.ts";

await runFakeHubMain({ argv: process.argv.slice(2) });
