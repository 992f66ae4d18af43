import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import OpenAI from "openai";
import { generateTinyLlama } from "@slm/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** The commands between the README's quickstart markers, as a newcomer copies them. */
async function quickstartCommands(): Promise<string[]> {
  const readme = await readFile(join(repoRoot, "README.md"), "utf8");
  const block = readme.slice(readme.indexOf("<!-- quickstart -->"), readme.indexOf("<!-- /quickstart -->"));
  return block
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && !line.startsWith("<!--") && !line.startsWith("```"));
}

/** A network namespace with only loopback, where this machine allows one (root): then nothing can reach out. */
async function offlineWrapper(): Promise<string[]> {
  try {
    await run("unshare", ["-n", "sh", "-c", "ip link set lo up"]);
    return ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec bash "$0"'];
  } catch {
    return ["bash"];
  }
}

describe("the README's quick start, in a fresh clone with no network", { timeout: 240_000 }, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "quickstart-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("sets up, serves the demo model and streams an answer to the curl command it prints", async () => {
    const commands = await quickstartCommands();
    expect(commands).toEqual(["bash scripts/setup.sh", "pnpm demo"]);
    const clone = join(dir, "clone");
    await run("git", ["clone", "--quiet", repoRoot, clone]);
    // Every command but the last runs to completion; the last (the demo) keeps serving, so it runs in the
    // background until it prints "demo: ready.", then the curl command it printed is run exactly as printed.
    const script = [
      "set -euo pipefail",
      `cd ${JSON.stringify(clone)}`,
      ...commands.slice(0, -1),
      // Its own process group, so that it can be stopped as a whole (a script's background job ignores SIGINT).
      `GATEWAY_PORT=0 setsid ${commands.at(-1)!} > demo.log 2>&1 &`,
      "demo=$!",
      'for _ in $(seq 1 240); do grep -q "^demo: ready." demo.log && break; kill -0 $demo || { cat demo.log; exit 1; }; sleep 0.5; done',
      "awk '/^curl -N/{flag=1} flag{print} flag && /-d '\"'\"'/{exit}' demo.log > curl.sh",
      "bash curl.sh > answer.txt",
      "kill -TERM -- -$demo; wait $demo || true",
      "cat answer.txt",
    ].join("\n");
    const scriptPath = join(dir, "quickstart.sh");
    await writeFile(scriptPath, script);
    const [command, ...args] = await offlineWrapper();
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(command!, [...args, scriptPath], {
        env: { ...process.env, npm_config_offline: "true" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
      child.on("exit", (code) =>
        code === 0 ? resolve(out) : reject(new Error(`quick start exited ${code}:\n${out.slice(-3000)}`)),
      );
    });
    const events = output.split("\n").filter((line) => line.startsWith("data: "));
    expect(events.at(-1)).toBe("data: [DONE]");
    const chunks = events.slice(0, -1).map(
      (line) =>
        JSON.parse(line.slice(6)) as {
          choices: Array<{ delta: { content?: string } }>;
          usage?: { completion_tokens: number };
        },
    );
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("").length).toBeGreaterThan(0);
    expect(chunks.at(-1)?.usage?.completion_tokens).toBeGreaterThan(0);
  });
});

describe("pnpm demo --model serves the user's own GGUF through the gateway", { timeout: 120_000 }, () => {
  it("answers with the official openai client, under the file's name", async () => {
    const dir = await mkdtemp(join(tmpdir(), "demo-model-"));
    const modelPath = join(dir, "my-finetune.Q8_0.gguf");
    await writeFile(modelPath, generateTinyLlama({ seed: 5, name: "my-finetune" }));
    const demo = await startDemo(["--model", modelPath]);
    try {
      const out = demo.output;
      const gateway = /gateway +(http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
      const apiKey = /API key +(\S+)/.exec(out)![1]!;
      expect(out).toMatch(/model +my-finetune\.Q8_0 /);
      expect(out).toContain(`new OpenAI({ baseURL: "${gateway}/v1", apiKey: "${apiKey}" })`);
      const client = new OpenAI({ baseURL: `${gateway}/v1`, apiKey, maxRetries: 0 });
      expect((await client.models.list()).data.map((m) => m.id)).toEqual(["my-finetune.Q8_0"]);
      let text = "";
      for await (const chunk of await client.chat.completions.create({
        model: "my-finetune.Q8_0",
        messages: [{ role: "user", content: "Hi" }],
        max_tokens: 8,
        stream: true,
      })) {
        text += chunk.choices[0]?.delta?.content ?? "";
      }
      expect(text.length).toBeGreaterThan(0);
    } finally {
      await demo.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses a file that is not a GGUF with one line", async () => {
    const dir = await mkdtemp(join(tmpdir(), "demo-model-"));
    const notGguf = join(dir, "notes.gguf");
    await writeFile(notGguf, "hello");
    const result = await run("pnpm", ["--silent", "demo", "--model", notGguf], {
      cwd: repoRoot,
      env: { ...process.env, GATEWAY_PORT: "0" },
    }).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `demo: --model ${notGguf}: not a GGUF file (it does not start with the GGUF magic)`,
    );
    await rm(dir, { recursive: true, force: true });
  });
});

describe("pnpm demo --embeddings serves embeddings for the demo model", { timeout: 120_000 }, () => {
  it("prints an embeddings curl command that answers with vectors", async () => {
    const demo = await startDemo(["--embeddings"]);
    try {
      const out = demo.output;
      const curl = /^curl (\S+\/v1\/embeddings) \\\n.*?-H "(Authorization: Bearer \S+)".*?-d '(.*?)'$/ms.exec(out);
      expect(curl, out).not.toBeNull();
      const [, url, authorization, body] = curl!;
      const res = await fetch(url!, {
        method: "POST",
        headers: { authorization: authorization!.slice("Authorization: ".length), "content-type": "application/json" },
        body,
      });
      expect(res.status).toBe(200);
      const json = (await res.json()) as { object: string; data: Array<{ embedding: number[] }> };
      expect(json.object).toBe("list");
      expect(json.data).toHaveLength(2);
      expect(json.data[0]!.embedding.length).toBeGreaterThan(0);
    } finally {
      await demo.stop();
    }
  });
});

/**
 * `pnpm demo <args>` in its own process group (pnpm does not pass signals on to the script, so the group is stopped
 * as a whole), resolved once it printed that it is ready, with what it printed so far.
 */
async function startDemo(args: readonly string[]): Promise<{ output: string; stop(): Promise<void> }> {
  const demo = spawn("pnpm", ["demo", ...args], {
    cwd: repoRoot,
    env: { ...process.env, GATEWAY_PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const stop = async () => {
    if (demo.exitCode !== null || demo.signalCode !== null) return;
    const exited = new Promise((resolve) => demo.once("exit", resolve));
    process.kill(-demo.pid!, "SIGTERM");
    await exited;
  };
  let output = "";
  demo.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  try {
    await new Promise<void>((resolve, reject) => {
      demo.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (/^demo: ready\./m.test(output) && /^Ctrl-C to stop\./m.test(output)) resolve();
      });
      demo.on("exit", (code) => reject(new Error(`demo exited ${code}: ${output}`)));
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { output, stop };
}
