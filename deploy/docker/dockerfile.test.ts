import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url);
const dockerfile = await readFile(new URL("deploy/docker/Dockerfile", root), "utf8");

/** The instructions of one stage (`FROM ... AS name` up to the next FROM), continuation lines joined. */
function stage(name: string): string[] {
  const lines = dockerfile
    .replace(/\\\n/g, " ")
    .split("\n")
    .filter((l) => l.trim() && !l.trimStart().startsWith("#"));
  const start = lines.findIndex((l) => new RegExp(`^FROM \\S+ AS ${name}$`).test(l.trim()));
  expect(start, `stage ${name}`).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((l, i) => i > start && l.startsWith("FROM "));
  return lines.slice(start, end === -1 ? undefined : end);
}

describe("deploy/docker/Dockerfile", () => {
  it.each([
    ["inference-base", "apps/inference"],
    ["gateway", "apps/gateway"],
  ])("runs the %s image with its app's own start command, as exec-form node", async (name, app) => {
    const pkg = JSON.parse(await readFile(new URL(`${app}/package.json`, root), "utf8")) as {
      scripts: { start: string };
    };
    const cmd = stage(name).find((l) => l.startsWith("CMD "));
    expect(JSON.parse(cmd!.slice(4))).toEqual(pkg.scripts.start.split(/\s+/));
    expect(stage(name)).toContain(`WORKDIR /app/${app}`);
    expect(stage(name).some((l) => /^USER 10001:10001$/.test(l))).toBe(true);
  });

  it("never takes the Hub token as a build argument or puts it in the environment", () => {
    expect(dockerfile).not.toMatch(/^\s*(ARG|ENV)\s[^\n]*HF_TOKEN/m);
    expect(dockerfile).toMatch(/--mount=type=secret,id=hf_token/);
    expect(stage("inference-baked").join("\n")).toMatch(/HF_HUB_OFFLINE=1/);
  });
});
