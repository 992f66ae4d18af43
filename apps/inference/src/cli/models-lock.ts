import { lockfilePathOf, lockModels, writeLockfile } from "../hub/index.ts";
import { createProgressReporter } from "./progress-reporter.ts";
import { runCommand, UsageError } from "./run-command.ts";

/**
 * `pnpm models:lock`: resolves the configured artifacts on the Hub and writes the lockfile (MODEL_LOCKFILE, by
 * default models.lock.json at the repository root) with repo, requested revision, commit, file, size, sha256 and
 * licence. Commit it: every later start and `models:pull` then refuses anything else.
 */
runCommand("models:lock", async (config) => {
  const path = lockfilePathOf(config.supplyChain.lockfile);
  if (!path) throw new UsageError("MODEL_LOCKFILE=none: set MODEL_LOCKFILE to the file to write");
  const reporter = createProgressReporter(`hashing ${config.model.file ?? config.model.id}`);
  const lockfile = await lockModels(config, {
    onProgress: (p) => reporter.progress(p),
    onEvent: (e) => reporter.event(e),
  }).finally(() => reporter.done());
  await writeLockfile(path, lockfile);
  for (const a of lockfile.artifacts) {
    process.stdout.write(
      `locked ${a.repo} ${a.file}${a.role === "base_file" ? " (base_file)" : ""} revision ${a.revision} -> commit ${a.commit}: sha256 ${a.sha256}, license ${a.license ?? "unknown"}\n`,
    );
  }
  process.stdout.write(`wrote ${path}\n`);
});
