import { existsSync } from "node:fs";
import { chromium, type BrowserContext, type Page } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface WatchedBrowser {
  context: BrowserContext;
  page: Page;
  /** Every request the browser made, with its Authorization header (filled in as headers arrive: see `settled`). */
  requested: Array<{ url: string; authorization: string | undefined }>;
  /** Everything the browser sent or received (headers, bodies), to search for secrets. */
  seen: string[];
  /** Console errors and warnings, page errors, CSP violations. */
  problems: string[];
  /** Waits until `requested` and `seen` hold everything so far. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Debian's Chromium, headless, driven by playwright-core, recording what the page sends and receives and what goes
 * wrong in it: the set-up of the playground's browser tests. A console line starting with `allowedConsole` (a
 * deliberate 401 the test provokes, which Chromium reports as a failed load) is not a problem.
 */
export async function openWatchedBrowser(options: {
  userDataDir: string;
  viewport?: { width: number; height: number };
  allowedConsole?: string;
}): Promise<WatchedBrowser> {
  if (!existsSync(CHROMIUM)) {
    // Fail, never skip: CI installs it (scripts/setup.sh), and a skipped test would prove nothing.
    throw new Error(
      `Chromium is missing at ${CHROMIUM}: run \`bash scripts/setup.sh\` (it installs Debian's chromium).`,
    );
  }
  const context = await chromium.launchPersistentContext(options.userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    ...(options.viewport ? { viewport: options.viewport } : {}),
  });
  const requested: WatchedBrowser["requested"] = [];
  const seen: string[] = [];
  const pending: Array<Promise<unknown>> = [];
  const problems: string[] = [];
  context.on("request", (request) => {
    pending.push(
      request.allHeaders().then((headers) => {
        requested.push({ url: request.url(), authorization: headers["authorization"] });
        seen.push(JSON.stringify(headers), request.postData() ?? "");
      }),
    );
  });
  context.on("response", (response) => {
    pending.push(response.allHeaders().then((headers) => seen.push(JSON.stringify(headers))));
    // A stopped stream has no complete body; what the page got of it is in the DOM.
    pending.push(
      response.body().then(
        (body) => seen.push(body.toString("utf8")),
        () => {},
      ),
    );
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (message) => {
    if (options.allowedConsole && message.text().startsWith(options.allowedConsole)) return;
    if (message.type() === "error" || message.type() === "warning")
      problems.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  return {
    context,
    page,
    requested,
    seen,
    problems,
    settled: async () => {
      await Promise.allSettled(pending);
    },
    close: () => context.close(),
  };
}
