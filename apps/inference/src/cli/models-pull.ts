import { resolveModel } from "../hub/index.ts";
import { createProgressReporter } from "./progress-reporter.ts";
import { runCommand } from "./run-command.ts";

/**
 * `pnpm models:pull`: downloads and verifies the configured artifacts into the Hub cache without loading them
 * (container builds, CI caches), enforcing the lockfile and the licence policy exactly as a service start would.
 * A later start with HF_HUB_OFFLINE=1 then needs no network. A transformers base's files are listed with role
 * `base_file`; `pnpm models:convert` converts it ahead of time too.
 */
runCommand("models:pull", async (config) => {
  const reporter = createProgressReporter(
    `downloading ${config.model.file ?? config.model.lora?.baseModel ?? config.model.id}`,
  );
  const result = await resolveModel(config, {
    onProgress: (p) => reporter.progress(p),
    onEvent: (e) => reporter.event(e),
    onFallback: (reason) =>
      reporter.event({ level: "warn", msg: `Hub not usable, using the cached commit: ${reason.message}`, fields: {} }),
  }).finally(() => reporter.done());
  if (result.lockfile) process.stdout.write(`lockfile enforced: ${result.lockfile}\n`);
  for (const a of result.artifacts) {
    process.stdout.write(
      `pulled ${a.repo} ${a.file}${a.role === "base_file" ? " (base_file)" : ""} revision ${a.revision} -> commit ${a.commit}: ${a.size} bytes, sha256 ${a.sha256}, ` +
        `license ${a.license ?? "unknown"}, from ${a.source}\n`,
    );
  }
});
