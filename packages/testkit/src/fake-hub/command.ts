import { seedRepoFromDir, type SeedFromDirOptions } from "./seed-from-dir.ts";
import { startFakeHub } from "./start-fake-hub.ts";
import type { FakeHub, GatedMode } from "./types.ts";

export const FAKE_HUB_USAGE = `Usage: fake-hub [--repo org/name=/path/to/dir [--private] [--gated auto|manual] [--license x]]... [--token hf_xxx]... [--host h] [--port n] [--cdn-port n]

Starts a fake Hugging Face Hub (and its CDN origin) on loopback.
  --repo ID=DIR   every file under DIR becomes a file of repo ID (repeatable)
  --private, --gated MODE, --license X   apply to the preceding --repo
  --token hf_xxx  a token that can read every repo and is approved for every gated repo (repeatable)
  --host, --port, --cdn-port   default 127.0.0.1, $FAKE_HUB_PORT or 8090, $FAKE_HUB_CDN_PORT or 8091
Prints one JSON line per repo ({repo, commit, url, cdnUrl, ...}), then {"ready":true, url, cdnUrl}.`;

export interface FakeHubArgs {
  host: string;
  port: number;
  cdnPort: number;
  repos: SeedFromDirOptions[];
  tokens: string[];
  help: boolean;
}

/** A repo the command created, as printed on stdout. */
export interface SeededRepoLine {
  repo: string;
  commit: string;
  url: string;
  cdnUrl: string;
  private: boolean;
  gated: GatedMode;
  files: string[];
}

function parsePort(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined || text === "") return fallback;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`fake-hub: invalid ${name}: ${JSON.stringify(text)}`);
  }
  return port;
}

/** Parses the command line (`process.argv.slice(2)`) with env defaults. Throws on bad input. */
export function parseFakeHubArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): FakeHubArgs {
  const args: FakeHubArgs = {
    host: env["FAKE_HUB_HOST"] || "127.0.0.1",
    port: parsePort(env["FAKE_HUB_PORT"], "FAKE_HUB_PORT", 8090),
    cdnPort: parsePort(env["FAKE_HUB_CDN_PORT"], "FAKE_HUB_CDN_PORT", 8091),
    repos: [],
    tokens: [],
    help: false,
  };
  const items = [...argv];
  const value = (flag: string, inline: string | undefined): string => {
    const v = inline ?? items.shift();
    if (v === undefined || (inline === undefined && v.startsWith("--"))) {
      throw new Error(`fake-hub: ${flag} needs a value`);
    }
    return v;
  };
  const lastRepo = (flag: string): SeedFromDirOptions => {
    const repo = args.repos[args.repos.length - 1];
    if (!repo) throw new Error(`fake-hub: ${flag} must follow a --repo`);
    return repo;
  };
  while (items.length > 0) {
    const item = items.shift() as string;
    const eq = item.startsWith("--") ? item.indexOf("=") : -1;
    const flag = eq === -1 ? item : item.slice(0, eq);
    const inline = eq === -1 ? undefined : item.slice(eq + 1);
    switch (flag) {
      case "--repo": {
        const spec = value(flag, inline);
        const sep = spec.indexOf("=");
        if (sep <= 0 || sep === spec.length - 1) {
          throw new Error(`fake-hub: --repo expects org/name=/path/to/dir, got ${JSON.stringify(spec)}`);
        }
        args.repos.push({ id: spec.slice(0, sep), dir: spec.slice(sep + 1) });
        break;
      }
      case "--private":
        lastRepo(flag).private = true;
        break;
      case "--gated": {
        const mode = value(flag, inline);
        if (mode !== "auto" && mode !== "manual") throw new Error(`fake-hub: --gated expects auto or manual`);
        lastRepo(flag).gated = mode;
        break;
      }
      case "--license":
        lastRepo(flag).license = value(flag, inline);
        break;
      case "--token": {
        const token = value(flag, inline);
        if (!token.startsWith("hf_")) throw new Error(`fake-hub: tokens must start with hf_`);
        args.tokens.push(token);
        break;
      }
      case "--host":
        args.host = value(flag, inline);
        break;
      case "--port":
        args.port = parsePort(value(flag, inline), flag, args.port);
        break;
      case "--cdn-port":
        args.cdnPort = parsePort(value(flag, inline), flag, args.cdnPort);
        break;
      case "--":
        // pnpm forwards the separator of `pnpm fake-hub -- --repo ...`
        break;
      case "--help":
      case "-h":
        args.help = true;
        break;
      default:
        throw new Error(`fake-hub: unknown argument ${JSON.stringify(item)}\n${FAKE_HUB_USAGE}`);
    }
  }
  return args;
}

export interface RunFakeHubOptions {
  /** Command-line arguments (without node and the script). */
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /**
   * Extra seeding after the `--repo` directories, e.g. a generated GGUF: call `hub.addRepo(...)` and
   * return the repo ids to print (they get a JSON line like the others).
   */
  seed?: (hub: FakeHub) => Promise<string[] | undefined> | string[] | undefined;
  /** Where JSON lines go. @default process.stdout */
  print?: (line: string) => void;
}

export interface RunningFakeHub {
  hub: FakeHub;
  repos: SeededRepoLine[];
  close(): Promise<void>;
}

function describe(hub: FakeHub, repoId: string): SeededRepoLine {
  const repo = hub.repo(repoId);
  return {
    repo: repo.id,
    commit: repo.mainSha,
    url: hub.url,
    cdnUrl: hub.cdnUrl,
    private: repo.private,
    gated: repo.gated,
    files: repo.listFiles(),
  };
}

/** Starts the fake hub as the command does, seeds it and prints the JSON lines; does not wait for signals. */
export async function runFakeHubCommand(options: RunFakeHubOptions = {}): Promise<RunningFakeHub> {
  const args = parseFakeHubArgs(options.argv ?? [], options.env ?? process.env);
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const hub = await startFakeHub({ host: args.host, port: args.port, cdnPort: args.cdnPort });
  try {
    const lines: SeededRepoLine[] = [];
    for (const repo of args.repos) {
      await seedRepoFromDir(hub, repo);
      lines.push(describe(hub, repo.id));
    }
    const extra = (await options.seed?.(hub)) ?? [];
    for (const id of extra) lines.push(describe(hub, id));
    for (const token of args.tokens) {
      hub.addToken(token, { canRead: "all", gatedApproved: "all" });
    }
    for (const line of lines) print(JSON.stringify(line));
    print(JSON.stringify({ ready: true, url: hub.url, cdnUrl: hub.cdnUrl, repos: lines.length }));
    return { hub, repos: lines, close: () => hub.close() };
  } catch (err) {
    await hub.close();
    throw err;
  }
}

/**
 * The whole command: runs {@link runFakeHubCommand}, then waits for SIGINT/SIGTERM and shuts down cleanly
 * (exit code 0). Bad arguments print the usage and exit with code 2.
 */
export async function runFakeHubMain(options: RunFakeHubOptions = {}): Promise<void> {
  let parsed: FakeHubArgs;
  try {
    parsed = parseFakeHubArgs(options.argv ?? [], options.env ?? process.env);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
    return;
  }
  if (parsed.help) {
    process.stdout.write(`${FAKE_HUB_USAGE}\n`);
    return;
  }
  let running: RunningFakeHub;
  try {
    running = await runFakeHubCommand(options);
  } catch (err) {
    process.stderr.write(`fake-hub: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
    return;
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      process.stderr.write(`fake-hub: ${signal}, shutting down\n`);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  await running.close();
}
