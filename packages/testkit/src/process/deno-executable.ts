import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/**
 * The Deno executable of the `deno` npm package installed for the package at `from` (a file URL inside it), resolved
 * as its own `bin.cjs` does. Spawned directly: the bin shim
 * runs Deno as a child with spawnSync and does not pass signals on, so stopping the shim would orphan Deno.
 */
export function denoExecutable(from: string): string {
  const require = createRequire(from);
  const dir = dirname(require.resolve("deno/package.json"));
  const exe = join(dir, process.platform === "win32" ? "deno.exe" : "deno");
  if (existsSync(exe)) return exe;
  return (require(join(dir, "install_api.cjs")) as { runInstall(): string }).runInstall();
}
