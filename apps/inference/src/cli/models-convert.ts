/**
 * `pnpm models:convert` converts a transformers model to GGUF, alone, for container builds:
 *
 * - From the Hub, with the service's configuration (MODEL_TYPE=lora, BASE_MODEL without BASE_MODEL_FILE,
 *   BASE_MODEL_QUANT, LORA_MERGE, the lockfile, ...): the base is resolved and verified exactly as at startup and
 *   converted into the converted cache the service reuses (a later start logs `converted: false`). `--out FILE`
 *   also copies the result there.
 * - From a local folder: `--from DIR --out FILE [--quant q8_0|f16] [--merge ADAPTER_DIR]`.
 *
 * A progress bar on a terminal (plain lines otherwise), on stderr; the result on stdout.
 */
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { InferenceConfig } from "@slm/config";
import {
  BASE_CACHE_FOLDER,
  convertTransformersCached,
  detectRepoFormat,
  prepareBase,
  transformersFilesToFetch,
} from "../convert/index.ts";
import { resolveModel, SAFETENSORS_INDEX, transformersBaseOf } from "../hub/index.ts";
import { createProgressReporter } from "./progress-reporter.ts";
import { runCommand, UsageError } from "./run-command.ts";

const USAGE =
  "usage: pnpm models:convert [--out FILE]  (the configured BASE_MODEL, from the Hub)\n" +
  "       pnpm models:convert --from DIR --out FILE [--quant q8_0|f16] [--merge ADAPTER_DIR]";

runCommand("models:convert", async (config) => {
  const { values } = parseCommandLine();
  // pnpm runs scripts from the workspace root; INIT_CWD is where the user typed the command.
  const cwd = process.env.INIT_CWD ?? process.cwd();
  const out = values.out === undefined ? undefined : resolve(cwd, values.out);
  if (values.from !== undefined) {
    if (!out) throw new UsageError(USAGE);
    const quant = values.quant ?? "q8_0";
    if (quant !== "q8_0" && quant !== "f16") throw new UsageError(USAGE);
    await convertFolder(
      resolve(cwd, values.from),
      out,
      quant,
      values.merge === undefined ? undefined : resolve(cwd, values.merge),
    );
    return;
  }
  if (values.quant !== undefined || values.merge !== undefined)
    throw new UsageError(`${USAGE}\n(from the Hub, set BASE_MODEL_QUANT and LORA_MERGE instead)`);
  await convertFromHub(config, out);
});

async function convertFromHub(config: InferenceConfig, out: string | undefined): Promise<void> {
  const lora = config.model.lora;
  if (!lora || !transformersBaseOf(config.model)) {
    throw new UsageError(
      "nothing to convert: set MODEL_TYPE=lora, LORA_ID and BASE_MODEL (a transformers repo, BASE_MODEL_FILE unset), or use --from DIR",
    );
  }
  const download = createProgressReporter(`downloading ${lora.baseModel}`);
  const resolved = await resolveModel(config, {
    onProgress: (p) => download.progress(p),
    onEvent: (e) => download.event(e),
    onFallback: (reason) =>
      download.event({ level: "warn", msg: `Hub not usable, using the cached commit: ${reason.message}`, fields: {} }),
  }).finally(() => download.done());
  const base = resolved.transformersBase!;
  const find = (role: string) => resolved.artifacts.find((a) => a.role === role);
  const merge = lora.merge ? { config: find("adapter_config")!, weights: find("adapter_weights")! } : undefined;
  const progress = createProgressReporter(`converting ${lora.baseModel}`);
  const prepared = await prepareBase({
    base,
    cacheDir: join(dirname(config.hub.cacheDir), BASE_CACHE_FOLDER),
    quant: lora.baseQuant,
    merge,
    onProgress: (p) => progress.progress({ downloadedBytes: p.doneBytes, totalBytes: p.totalBytes }),
  }).finally(() => progress.done());
  process.stdout.write(
    `${prepared.converted ? "converted" : "reused"} ${base.listing.repo} revision ${base.listing.revision} -> commit ${base.listing.commit}` +
      ` (${lora.baseQuant}${merge ? `, ${lora.adapters[0]!.id} merged` : ""}): ${prepared.path}\n`,
  );
  if (out) {
    await mkdir(dirname(out), { recursive: true });
    await copyFile(prepared.path, out);
    process.stdout.write(`wrote ${out}\n`);
  }
}

/** A local transformers folder (as `save_pretrained` writes it) converted to `out`, written atomically. */
async function convertFolder(
  dir: string,
  out: string,
  quant: "q8_0" | "f16",
  mergeDir: string | undefined,
): Promise<void> {
  const names = (
    await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => {
      throw new UsageError(`cannot read the folder ${dir}`);
    })
  )
    .filter((entry) => entry.isFile())
    .map((entry) =>
      relative(dir, join(entry.parentPath ?? entry.path, entry.name))
        .split("\\")
        .join("/"),
    );
  if (detectRepoFormat(names) !== "transformers") {
    throw new UsageError(
      `${dir} is not a transformers model folder (config.json with model.safetensors, or its index and shards)`,
    );
  }
  const index = names.includes(SAFETENSORS_INDEX)
    ? (JSON.parse(await readFile(join(dir, SAFETENSORS_INDEX), "utf8")) as unknown)
    : undefined;
  const files = Object.fromEntries(
    [...new Set([...(index ? [SAFETENSORS_INDEX] : []), ...transformersFilesToFetch(names, index)])].map((name) => [
      name,
      join(dir, name),
    ]),
  );
  // The converter writes `<cache>/<key>.gguf` atomically; a private folder beside `out` keeps the final rename on one file system.
  await mkdir(dirname(out), { recursive: true });
  const scratch = await mkdtemp(join(dirname(out), ".models-convert-"));
  const progress = createProgressReporter(`converting ${relative(process.env.INIT_CWD ?? process.cwd(), dir) || "."}`);
  try {
    const result = await convertTransformersCached({
      cacheDir: scratch,
      files,
      outType: quant,
      name: basename(dir),
      ...(mergeDir
        ? {
            merge: {
              adapterConfigPath: join(mergeDir, "adapter_config.json"),
              safetensorsPath: join(mergeDir, "adapter_model.safetensors"),
            },
          }
        : {}),
      onProgress: (done, total) => progress.progress({ downloadedBytes: done, totalBytes: total }),
    });
    progress.done();
    await rename(result.path, out);
  } finally {
    progress.done();
    await rm(scratch, { recursive: true, force: true });
  }
  process.stdout.write(`wrote ${out} (${quant}${mergeDir ? ", adapter merged" : ""})\n`);
}

function parseCommandLine() {
  try {
    return parseArgs({
      args: process.argv.slice(2).filter((arg) => arg !== "--"), // `pnpm run x -- args` passes the separator on
      options: {
        from: { type: "string" },
        out: { type: "string" },
        quant: { type: "string" },
        merge: { type: "string" },
      },
    });
  } catch {
    throw new UsageError(USAGE);
  }
}
