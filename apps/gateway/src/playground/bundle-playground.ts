import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { PlaygroundAssets } from "./serve-playground.ts";

/**
 * Builds the playground page in memory with esbuild: `playground/src/main.ts` bundled (with eventsource-parser) into
 * `main.js`, `playground/style.css` into `style.css`, and `playground/index.html` as is. Takes well under a second,
 * so the gateway builds on first use instead of depending on a build step having been run (nothing can be stale).
 * Node (or any runtime where esbuild's binary may run); imported lazily, only when the playground is enabled.
 */

export const PLAYGROUND_SOURCE_DIR = fileURLToPath(new URL("../../playground/", import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

function contentType(name: string): string {
  const type = CONTENT_TYPES[name.slice(name.lastIndexOf("."))];
  if (type === undefined) throw new Error(`playground: no content type for ${name}`);
  return type;
}

export async function bundlePlayground(sourceDir: string = PLAYGROUND_SOURCE_DIR): Promise<PlaygroundAssets> {
  const outdir = `${sourceDir}out`;
  const result = await build({
    absWorkingDir: sourceDir,
    entryPoints: [
      { in: "src/main.ts", out: "main" },
      { in: "style.css", out: "style" },
    ],
    outdir,
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    charset: "utf8",
    logLevel: "silent",
  });
  const assets = new Map<string, { body: string; contentType: string }>();
  for (const file of result.outputFiles) {
    const name = file.path.slice(outdir.length + 1);
    assets.set(name, { body: file.text, contentType: contentType(name) });
  }
  assets.set("index.html", {
    body: await readFile(`${sourceDir}index.html`, "utf8"),
    contentType: contentType("index.html"),
  });
  return assets;
}
