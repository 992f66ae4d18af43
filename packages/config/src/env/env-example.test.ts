import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";

const root = new URL("../../../../", import.meta.url);
const variables = (text: string, pattern: RegExp) => [...new Set([...text.matchAll(pattern)].map((m) => m[1]!))].sort();

describe(".env.example", () => {
  it("lists every variable of the README's configuration tables, and no other", async () => {
    const readme = await readFile(new URL("README.md", root), "utf8");
    const configuration = readme.slice(readme.indexOf("## Configuration"), readme.indexOf("## Development"));
    const example = await readFile(new URL(".env.example", root), "utf8");
    const documented = variables(configuration, /^\| `([A-Z][A-Z0-9_]+)` \|/gm);
    expect(documented.length).toBeGreaterThan(60);
    expect(variables(example, /^# ([A-Z][A-Z0-9_]+)=/gm)).toEqual(documented);
  });
});
