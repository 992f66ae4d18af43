import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeHub, type FakeHub } from "@slm/testkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import { downloadBlob } from "./download-blob.ts";
import { DownloadInterruptedError } from "../errors.ts";

let hub: FakeHub;
let commit: string;
/** 8 MiB: several 1 MiB writes, so a lock lost after the first one leaves most of the file unfetched. */
const big = Buffer.alloc(8 << 20, 7);

beforeAll(async () => {
  hub = await startFakeHub();
  commit = hub.addRepo({ id: "acme/big", files: { "big.gguf": big } });
});
afterAll(async () => hub.close());

it("stops writing as soon as the cross-process lock is lost, and leaves no partial file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "download-blob-"));
  const lost = new AbortController();
  const partialPath = join(dir, "blob.incomplete");
  let written = 0;
  const error = await downloadBlob({
    session: {
      retry: { retries: 0, baseDelayMs: 1, maxWaitMs: 10 },
      cacheDir: dir,
      onProgress: ({ downloadedBytes }) => {
        written = downloadedBytes;
        lost.abort(); // another process took the lock over after our first write
      },
    },
    hub: { fetch, authorization: undefined },
    url: `${hub.url}/acme/big/resolve/${commit}/big.gguf`,
    partialPath,
    size: big.length,
    withGitSha1: false,
    artifact: { repo: "acme/big", revision: commit, file: "big.gguf" },
    signal: lost.signal,
  }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DownloadInterruptedError);
  expect(written).toBeLessThan(big.length / 2);
  expect(existsSync(partialPath)).toBe(false);
  await rm(dir, { recursive: true, force: true });
});
