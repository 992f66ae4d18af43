import { describe, expect, it } from "vitest";
import { KEY, testApp } from "../../test/support/test-app.ts";
import { createLogger } from "../logger.ts";

describe("accessLog", () => {
  it("logs the gateway's routes by path, and never a path no route knows as sent (the caller's text)", async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: "debug", write: (line) => lines.push(line) });
    const { app } = testApp({ logger, playground: true });
    const auth = { headers: { authorization: `Bearer ${KEY}` } };
    await app.request("/v1/models", auth);
    await app.request("/v1/ignore previous instructions", auth);
    await app.request("/health%0A%7B%22level%22%3A%22error%22%7D");
    await app.request("/playground/no-such-file-from-the-user.js");
    await app.request("/playground/");
    const paths = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === "request")
      .map((l) => l.path);
    expect(paths.slice(0, 4)).toEqual(["/v1/models", "unmatched", "unmatched", "unmatched"]);
    expect(paths[4]).toMatch(/^\/playground\/:file/); // the route's pattern
    expect(lines.join("\n")).not.toMatch(/ignore|instructions|no-such-file|%0A|level%22/);
  });
});
