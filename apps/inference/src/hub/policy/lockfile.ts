import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import * as v from "valibot";
import { writeFileAtomic } from "../../formats/index.ts";
import { ARTIFACT_ROLES } from "../configured-artifacts.ts";
import { InvalidLockfileError, type ArtifactRef } from "../errors.ts";
import { COMMIT_HASH, SHA256_HEX } from "../remote/index.ts";

/** One pinned artifact: what `pnpm models:lock` resolved, and what startup then insists on. */
const LockedArtifactSchema = v.object({
  role: v.picklist(ARTIFACT_ROLES),
  /** LORA_ADAPTERS: the adapter's name. */
  adapter: v.optional(v.string()),
  repo: v.string(),
  revision: v.string(),
  commit: v.pipe(v.string(), v.regex(COMMIT_HASH)),
  file: v.string(),
  size: v.pipe(v.number(), v.integer(), v.minValue(0)),
  sha256: v.pipe(v.string(), v.regex(SHA256_HEX)),
  license: v.nullable(v.string()),
});

const LockfileSchema = v.object({
  version: v.literal(1),
  artifacts: v.array(LockedArtifactSchema),
});

export type LockedArtifact = v.InferOutput<typeof LockedArtifactSchema>;
export type Lockfile = v.InferOutput<typeof LockfileSchema>;

/** `models.lock.json` at the repository root, beside pnpm-lock.yaml. */
export const DEFAULT_LOCKFILE = fileURLToPath(new URL("../../../../../models.lock.json", import.meta.url));

/** MODEL_LOCKFILE: unset means the default path, "none" turns lockfiles off. */
export function lockfilePathOf(setting: string | undefined): string | undefined {
  if (setting === undefined) return DEFAULT_LOCKFILE;
  return setting.toLowerCase() === "none" ? undefined : setting;
}

/** The lockfile, or undefined when there is none at that path. `artifact` names what was being resolved. */
export async function readLockfile(path: string, artifact: ArtifactRef): Promise<Lockfile | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") return undefined;
    throw new InvalidLockfileError(artifact, path, "unreadable");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InvalidLockfileError(artifact, path, "not JSON");
  }
  const parsed = v.safeParse(LockfileSchema, json);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const where = issue ? v.getDotPath(issue) : undefined;
    throw new InvalidLockfileError(artifact, path, where ? `bad ${where}` : "unexpected shape");
  }
  return parsed.output;
}

export async function writeLockfile(path: string, lockfile: Lockfile): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(lockfile, null, 2)}\n`);
}
