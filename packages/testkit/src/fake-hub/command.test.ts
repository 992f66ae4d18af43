/**
 * The `fake-hub` command: argument parsing, programmatic seeding, and the real process.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseFakeHubArgs, runFakeHubCommand, type SeededRepoLine } from "./command.ts";
import { sha256Hex } from "./hashing.ts";

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = join(PACKAGE_DIR, "src", "bin", "fake-hub.ts");
const GGUF = Buffer.concat([Buffer.from("GGUF"), Buffer.alloc(4096, 1)]);

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fake-hub-cmd-"));
  await mkdir(join(dir, "sub"));
  await writeFile(join(dir, "config.json"), '{"a":1}');
  await writeFile(join(dir, "sub", "tiny.gguf"), GGUF);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("parseFakeHubArgs", () => {
  it("reads repos with their modifiers, tokens and ports", () => {
    const args = parseFakeHubArgs(
      ["--", "--repo", "a/b=/x", "--private", "--repo=c/d=/y", "--gated", "auto", "--token", "hf_1", "--port=0"],
      { FAKE_HUB_CDN_PORT: "9999" },
    );
    expect(args).toEqual({
      host: "127.0.0.1",
      port: 0,
      cdnPort: 9999,
      repos: [
        { id: "a/b", dir: "/x", private: true },
        { id: "c/d", dir: "/y", gated: "auto" },
      ],
      tokens: ["hf_1"],
      help: false,
    });
    expect(parseFakeHubArgs([], {}).port).toBe(8090);
    expect(parseFakeHubArgs([], {}).cdnPort).toBe(8091);
  });

  it("rejects bad input", () => {
    expect(() => parseFakeHubArgs(["--private"], {})).toThrow(/must follow a --repo/);
    expect(() => parseFakeHubArgs(["--repo", "nodir"], {})).toThrow(/org\/name=/);
    expect(() => parseFakeHubArgs(["--token", "abc"], {})).toThrow(/hf_/);
    expect(() => parseFakeHubArgs(["--wat"], {})).toThrow(/unknown argument/);
    expect(() => parseFakeHubArgs([], { FAKE_HUB_PORT: "http" })).toThrow(/FAKE_HUB_PORT/);
  });
});

describe("runFakeHubCommand", () => {
  it("seeds from directories and from code, printing one JSON line per repo", async () => {
    const lines: string[] = [];
    const running = await runFakeHubCommand({
      argv: ["--repo", `org/dir=${dir}`, "--port", "0", "--cdn-port", "0"],
      env: {},
      print: (line) => lines.push(line),
      seed: (hub) => {
        hub.addRepo({ id: "org/generated", files: { "gen.gguf": GGUF } });
        return ["org/generated"];
      },
    });
    try {
      const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(parsed).toHaveLength(3);
      expect(parsed[0]).toMatchObject({ repo: "org/dir", files: ["config.json", "sub/tiny.gguf"], private: false });
      expect(parsed[1]).toMatchObject({ repo: "org/generated", files: ["gen.gguf"] });
      expect(parsed[2]).toEqual({ ready: true, url: running.hub.url, cdnUrl: running.hub.cdnUrl, repos: 2 });
      const res = await fetch(`${running.hub.url}/org/generated/resolve/main/gen.gguf`);
      expect(sha256Hex(Buffer.from(await res.arrayBuffer()))).toBe(sha256Hex(GGUF));
    } finally {
      await running.close();
    }
  });
});

describe("the fake-hub process", () => {
  it("serves seeded repos and exits cleanly on SIGTERM", async () => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", BIN, "--repo", `org/cli=${dir}`, "--private", "--token", "hf_cli_token"],
      {
        cwd: PACKAGE_DIR,
        env: { ...process.env, FAKE_HUB_PORT: "0", FAKE_HUB_CDN_PORT: "0" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    try {
      const lines: Array<Record<string, unknown>> = [];
      for await (const line of createInterface({ input: child.stdout })) {
        const json = JSON.parse(line) as Record<string, unknown>;
        lines.push(json);
        if (json["ready"]) break;
      }
      const repo = lines[0] as unknown as SeededRepoLine;
      expect(repo.repo).toBe("org/cli");
      expect(repo.private).toBe(true);
      expect(repo.commit).toMatch(/^[0-9a-f]{40}$/);
      const url = `${repo.url}/org/cli/resolve/${repo.commit}/sub/tiny.gguf`;
      expect((await fetch(url)).status).toBe(401);
      const res = await fetch(url, { headers: { Authorization: "Bearer hf_cli_token" } });
      expect(res.url.startsWith(repo.cdnUrl)).toBe(true);
      expect(Buffer.from(await res.arrayBuffer()).equals(GGUF)).toBe(true);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    expect(stderr).toContain("SIGTERM");
  }, 20_000);

  it("exits with code 2 on bad arguments", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", BIN, "--bogus"], {
      cwd: PACKAGE_DIR,
      env: { ...process.env, FAKE_HUB_PORT: "0", FAKE_HUB_CDN_PORT: "0" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    expect(code).toBe(2);
    expect(stderr).toContain("unknown argument");
  }, 20_000);
});
