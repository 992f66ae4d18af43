import { request } from "node:http";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startStack, type Stack } from "@slm/testkit";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openWatchedBrowser, type WatchedBrowser } from "./support/browser.ts";

/**
 * The playground in a real browser (Debian's Chromium, headless, driven by playwright-core) against the whole product
 * offline: fake Hub with a private repo and token -> inference -> gateway. The page must stream, stop a generation
 * (and so free inference's only slot), and never contact or learn about anything but the gateway.
 */

const SCREENSHOT = fileURLToPath(new URL("./artifacts/playground.png", import.meta.url));
// A repo whose name shares nothing with the served name, so that any leak of it is unambiguous.
const PRIVATE_REPO = "acme-private/secret-finetune-v3";

let stack: Stack;
let browser: WatchedBrowser;
let page: Page;
let userDataDir: string;
let hubRequestsBefore: number;

function secrets(): Record<string, string> {
  return {
    "Hub token": stack.hubToken,
    "Hub host": new URL(stack.hub.url).host,
    "CDN host": new URL(stack.hub.cdnUrl).host,
    "private repo id": stack.repo,
    "repo owner": "acme-private",
    "repo name": "secret-finetune",
    "model revision": stack.commit,
    "inference host": new URL(stack.inferenceUrl).host,
    "inference key": stack.inferenceKey,
  };
}

/**
 * Probes inference's single slot directly (the test may; the page may not): 429 while a generation holds it. A new
 * connection each time (no keep-alive), so a reused socket that inference has just closed cannot fail the probe.
 */
function probeSlot(): Promise<number> {
  const body = JSON.stringify({ messages: [{ role: "user", content: "probe" }], max_tokens: 1 });
  return new Promise((resolve, reject) => {
    const req = request(
      `${stack.inferenceUrl}/v1/chat/completions`,
      {
        method: "POST",
        agent: false,
        headers: { "content-type": "application/json", authorization: `Bearer ${stack.inferenceKey}` },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

beforeAll(async () => {
  stack = await startStack({
    repo: PRIVATE_REPO,
    file: "tiny-chat.gguf",
    playground: true,
    // Big enough that a long generation lasts seconds here (a few hundred tokens/s), so it can be stopped midway.
    model: { contextLength: 4096, nLayer: 4, nEmbd: 256, nHead: 4, nFf: 512 },
    // One slot, no waiting line: while a generation runs, any other request gets 429 at once.
    inferenceEnv: { CONTEXT_SIZE: "4096", PARALLEL: "1", MAX_QUEUE: "0" },
  });
  hubRequestsBefore = stack.hub.requests.length;

  userDataDir = await mkdtemp(join(tmpdir(), "slm-chromium-"));
  browser = await openWatchedBrowser({
    userDataDir,
    viewport: { width: 1000, height: 900 },
    // Chromium reports the deliberate wrong-key 401 below as a failed resource load.
    allowedConsole: "Failed to load resource: the server responded with a status of 401",
  });
  page = browser.page;
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

/** Counts the text lengths the last assistant message goes through, as the page updates it. */
async function watchAssistantText(): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { lengths: number[]; observer?: MutationObserver };
    w.observer?.disconnect();
    w.lengths = [];
    w.observer = new MutationObserver(() => {
      const messages = document.querySelectorAll(".message.assistant");
      w.lengths.push(messages[messages.length - 1]?.firstChild?.textContent?.length ?? 0);
    });
    w.observer.observe(document.getElementById("transcript")!, { subtree: true, childList: true, characterData: true });
  });
}

const textLengths = () => page.evaluate(() => (window as unknown as { lengths: number[] }).lengths);
const lastAssistant = () => page.locator(".message.assistant").last();

describe("the playground in Chromium", () => {
  it("streams, stops a generation server-side, and only ever talks to the gateway", async () => {
    const response = await page.goto(stack.playgroundUrl);
    expect(response?.status()).toBe(200);
    expect(response?.headers()["content-security-policy"]).toBe(
      "default-src 'self'; connect-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );

    // A wrong key: the gateway's refusal is shown as it came, and the page cannot send anything.
    await page.fill("#api-key", "sk-not-a-key-of-this-gateway");
    await page.click("#key-use");
    await expect
      .poll(() => page.textContent("#status"), { timeout: 10_000 })
      .toContain("Incorrect API key provided. (401 invalid_api_key)");
    expect(await page.isEnabled("#send")).toBe(false);

    // The right key: the models are listed under their public name.
    await page.fill("#api-key", stack.apiKey);
    await page.click("#key-use");
    await expect
      .poll(() => page.locator("#model option").allTextContents(), { timeout: 10_000 })
      .toEqual(["tiny-chat"]);
    await expect.poll(() => page.isEnabled("#send"), { timeout: 10_000 }).toBe(true);
    expect(await page.evaluate(() => ({ session: sessionStorage.length, local: localStorage.length }))).toEqual({
      session: 1,
      local: 0,
    });
    expect(await page.evaluate(() => Object.values(sessionStorage))).toEqual([stack.apiKey]);
    expect(await browser.context.cookies()).toEqual([]);

    // 1. A generation to its end: the text grows in several steps, then usage and speed are shown. Greedy, so the
    // tiny model's answer (which does not meet its end-of-sequence token within 200 tokens) is the same every run.
    await page.fill("#temperature", "0");
    await page.fill("#max-tokens", "200");
    await page.fill("#prompt", "Once upon a time");
    await watchAssistantText();
    await page.click("#send");
    await expect.poll(() => page.getAttribute("#stats", "data-state"), { timeout: 30_000 }).toBe("done");
    const lengths = await textLengths();
    const finalText = (await lastAssistant().textContent()) ?? "";
    expect(finalText.length).toBeGreaterThan(0);
    expect(new Set(lengths.filter((n) => n > 0)).size).toBeGreaterThanOrEqual(3);
    expect(lengths.at(-1)).toBe(finalText.length);
    expect(await page.textContent("#stat-completion")).toBe("200");
    expect(await page.textContent("#stat-finish")).toBe("length");
    expect(Number(await page.textContent("#stat-prompt"))).toBeGreaterThan(0);
    expect(Number(await page.textContent("#stat-rate"))).toBeGreaterThan(0);

    await page.fill("#temperature", "0.8");

    // 2. A long generation, stopped midway. Inference has one slot and no queue: it is busy while the generation
    // runs, and must be free again soon after Stop, long before the generation could have finished by itself.
    await page.fill("#max-tokens", "4000");
    await page.fill("#prompt", "Tell me a much longer story");
    await page.click("#send");
    await page.waitForFunction(
      () => Number(document.querySelector(".message.assistant:last-child")?.getAttribute("data-chunks")) >= 30,
    );
    expect(await probeSlot()).toBe(429);
    await page.click("#stop");
    const stoppedAt = Date.now();
    await expect.poll(() => page.getAttribute("#stats", "data-state"), { timeout: 10_000 }).toBe("stopped");
    const chunksShown = Number(await lastAssistant().getAttribute("data-chunks"));
    expect(await lastAssistant().getAttribute("data-state")).toBe("stopped");
    let status = await probeSlot();
    for (let i = 0; status === 429 && i < 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = await probeSlot();
    }
    const freedAfterMs = Date.now() - stoppedAt;
    expect(status).toBe(200);
    // At least 3000 tokens were left (4000 asked, the context allows ~3800). At the rate this very generation ran
    // (as the page measured it up to Stop, under whatever load the machine had), they would have taken:
    const rate = Number((await page.textContent("#stat-rate"))?.replace("≈", ""));
    expect(rate).toBeGreaterThan(0);
    const couldHaveRunMs = ((3000 - chunksShown) / rate) * 1000;
    expect(chunksShown).toBeLessThan(1000);
    expect(freedAfterMs).toBeLessThan(couldHaveRunMs / 2);
    expect(await page.isEnabled("#send")).toBe(true);
    expect(await page.textContent("#stat-completion")).toBe(`≈ ${chunksShown}`);

    await mkdir(join(SCREENSHOT, ".."), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // 3. Only the gateway's origin was ever contacted; nothing received names the Hub, its token or the private repo.
    await browser.settled();
    const requested = browser.requested.map((r) => r.url);
    const gatewayOrigin = new URL(stack.gatewayUrl).origin;
    expect(requested.filter((url) => new URL(url).origin !== gatewayOrigin)).toEqual([]);
    const paths = requested.map((url) => new URL(url).pathname);
    expect(paths).toEqual(
      expect.arrayContaining([
        "/playground/",
        "/playground/main.js",
        "/playground/style.css",
        "/v1/models",
        "/v1/chat/completions",
      ]),
    );
    expect(paths.filter((p) => p === "/v1/chat/completions")).toHaveLength(2);
    const fromBrowser = stack.hub.requests
      .slice(hubRequestsBefore)
      .filter((r) => /Mozilla|Chrom/.test(r.headers["user-agent"] ?? ""));
    expect(fromBrowser).toEqual([]);

    const everything = [...browser.seen, await page.content(), (await page.textContent("body")) ?? ""].join("\n");
    expect(everything).toContain("tiny-chat"); // what was collected is real
    for (const [what, secret] of Object.entries(secrets())) {
      expect(everything.includes(secret), `${what} reached the browser`).toBe(false);
    }
    expect(browser.problems).toEqual([]);
  }, 120_000);

  it("shows the calls a model makes, and sends the next message as the tool's result", async () => {
    if (page.url() !== stack.playgroundUrl) {
      await page.goto(stack.playgroundUrl);
      await page.fill("#api-key", stack.apiKey);
      await page.click("#key-use");
    }
    await expect.poll(() => page.isEnabled("#send"), { timeout: 10_000 }).toBe(true);
    await page.click("#clear");
    await page.click(".tools summary");
    const tool = {
      type: "function",
      function: {
        name: "get_weather",
        parameters: { type: "object", properties: { city: { type: "string", maxLength: 12 } }, required: ["city"] },
      },
    };
    await page.fill("#tools", JSON.stringify([tool]));
    await page.selectOption("#tool-choice", "required");
    await page.fill("#max-tokens", "300");
    await page.fill("#temperature", "0");
    await page.fill("#prompt", "Weather in Paris?");
    await page.click("#send");
    await expect.poll(() => page.getAttribute("#stats", "data-state"), { timeout: 30_000 }).toBe("done");
    expect(await page.textContent("#stat-finish")).toBe("tool_calls");
    // One line per call (greedy decoding here: always the same calls), each `get_weather(<its JSON arguments>)`.
    const shown = await page.locator(".message.assistant .tool-call").allTextContents();
    expect(shown.length).toBeGreaterThanOrEqual(1);
    for (const line of shown) {
      const call = /^get_weather\((.*)\)$/s.exec(line);
      expect(call, line).not.toBeNull();
      const args = JSON.parse(call![1]!) as Record<string, unknown>;
      expect(Object.keys(args)).toEqual(["city"]);
      expect(typeof args["city"]).toBe("string");
    }
    expect(await page.getAttribute("#prompt", "placeholder")).toContain("The result of get_weather");

    // The next message is the call's result: shown as such, sent as a `tool` message, and the model answers.
    await page.selectOption("#tool-choice", "none");
    await page.fill("#max-tokens", "8");
    for (const [i] of shown.entries()) {
      expect(await page.getAttribute("#prompt", "placeholder")).toContain("The result of get_weather");
      await page.fill("#prompt", `result ${i}`);
      await page.click("#send");
    }
    await expect.poll(() => page.getAttribute("#stats", "data-state"), { timeout: 30_000 }).toBe("done");
    expect(await page.locator(".message.tool").allTextContents()).toEqual(
      shown.map((_, i) => `get_weather: result ${i}`),
    );
    expect(await page.locator(".message.assistant").count()).toBe(2);
    expect(await page.getAttribute("#prompt", "placeholder")).toContain("Type a message");
    expect(browser.problems).toEqual([]);
  }, 60_000);
});
