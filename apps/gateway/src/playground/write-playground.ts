import { mkdir, rm, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { bundlePlayground } from "./bundle-playground.ts";

/**
 * `pnpm --filter @slm/gateway build`: writes the playground page to `dist/playground/` (the same bundle the gateway
 * builds in memory when it serves the page). For static hosting behind another server, which must then send the
 * Content-Security-Policy documented in the README; and a build check for CI (`pnpm build`).
 */

const outDir = fileURLToPath(new URL("../../dist/playground/", import.meta.url));
const assets = await bundlePlayground();
await rm(outDir, { recursive: true, force: true });
await mkdir(outDir, { recursive: true });
for (const [name, asset] of assets) await writeFile(`${outDir}${name}`, asset.body);
console.log(`playground: wrote ${[...assets.keys()].join(", ")} to dist/playground/`);
