/**
 * The docker and compose command lines the container test drives, found once. `docker build --secret` needs BuildKit:
 * a Docker 23+ CLI only has it through the buildx plugin, while a 20.10 CLI (Debian's docker.io) talks to the
 * daemon's built-in BuildKit with DOCKER_BUILDKIT=1, so the first CLI that can do it is used ($DOCKER first).
 * Compose is `docker compose` (v2 plugin) or `docker-compose` (1.29, Debian's docker-compose).
 */
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface DockerCli {
  docker: string;
  compose: string[];
  /** Runs docker; resolves with stdout, rejects with stderr in the message. */
  exec(args: string[], options?: { env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<string>;
  /** Runs compose with these leading arguments (project, files). */
  composeExec(args: string[], env: NodeJS.ProcessEnv): Promise<string>;
}

async function tryRun(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  try {
    return (await run(file, args, { env, timeout: 30_000 })).stdout.trim();
  } catch {
    return undefined;
  }
}

/** Why docker cannot run here, or the CLI to use. */
export async function findDocker(): Promise<DockerCli | string> {
  const candidates = [...new Set([process.env.DOCKER, "docker", "/usr/bin/docker"].filter((c): c is string => !!c))];
  let reason = "no docker CLI found (apt-get install docker.io)";
  for (const docker of candidates) {
    const client = await tryRun(docker, ["version", "--format", "{{.Client.Version}}"]);
    if (client === undefined) continue;
    if ((await tryRun(docker, ["info", "--format", "{{.ServerVersion}}"])) === undefined) {
      reason = `the docker daemon does not answer (start it: dockerd --bridge=none --iptables=false)`;
      continue;
    }
    const major = Number(client.split(".")[0]);
    if (major >= 23 && (await tryRun(docker, ["buildx", "version"])) === undefined) {
      reason = `docker ${client} has no buildx plugin, so no BuildKit for build secrets`;
      continue;
    }
    const compose =
      (await tryRun(docker, ["compose", "version"])) !== undefined
        ? [docker, "compose"]
        : (await tryRun("docker-compose", ["version"])) !== undefined
          ? ["docker-compose"]
          : undefined;
    if (!compose) {
      reason = "neither `docker compose` nor docker-compose is installed (apt-get install docker-compose)";
      continue;
    }
    const env = { ...process.env, DOCKER_BUILDKIT: "1", COMPOSE_DOCKER_CLI_BUILD: "1" };
    return {
      docker,
      compose,
      async exec(args, options = {}) {
        try {
          const out = await run(docker, args, {
            env: { ...env, ...options.env },
            maxBuffer: 256 << 20,
            timeout: options.timeoutMs ?? 600_000,
          });
          return out.stdout.trim();
        } catch (err) {
          const e = err as { stderr?: string; message: string };
          throw new Error(`docker ${args.slice(0, 3).join(" ")} failed: ${(e.stderr ?? e.message).slice(-4000)}`);
        }
      },
      async composeExec(args, composeEnv) {
        const [file, ...lead] = compose;
        try {
          const out = await run(file!, [...lead, ...args], {
            env: { ...env, ...composeEnv },
            maxBuffer: 64 << 20,
            timeout: 600_000,
          });
          return out.stdout.trim();
        } catch (err) {
          const e = err as { stderr?: string; message: string };
          throw new Error(`compose ${args.slice(-3).join(" ")} failed: ${(e.stderr ?? e.message).slice(-4000)}`);
        }
      },
    };
  }
  return reason;
}

/** Whether a command's stdout (e.g. `docker save`, a tar of every layer) contains `needle`, read as a stream. */
export function outputContains(file: string, args: string[], needle: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const target = Buffer.from(needle);
    const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"] });
    let tail = Buffer.alloc(0);
    let found = false;
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      if (found) return;
      const window = Buffer.concat([tail, chunk]);
      if (window.includes(target)) {
        found = true;
        child.kill();
        return;
      }
      tail = window.subarray(Math.max(0, window.length - target.length + 1));
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (found) resolve(true);
      else if (code === 0) resolve(false);
      else reject(new Error(`${file} ${args.join(" ")} exited ${String(code)}: ${stderr.slice(-2000)}`));
    });
  });
}
