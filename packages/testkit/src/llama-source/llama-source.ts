import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * Files of the llama.cpp source that node-llama-cpp was built from: it ships as a git bundle
 * (`node-llama-cpp/llama/gitRelease.bundle`), so real vocabularies (`models/ggml-vocab-*.gguf`) and chat templates
 * (`models/templates/*.jinja`) are available offline, at the exact version the engine runs. The bundle is cloned once
 * (bare) into `node_modules/.cache/llama-source/` of the workspace and files are read out of it with `git show`.
 */
export async function readLlamaSourceFile(path: string): Promise<Buffer> {
  const cached = join(await sourceCache(), "files", path);
  if (!existsSync(cached)) {
    const { stdout } = await run("git", ["--git-dir", join(await sourceCache(), "repo.git"), "show", `HEAD:${path}`], {
      encoding: "buffer",
      maxBuffer: 512 * 1024 * 1024,
    });
    await writeAtomic(cached, stdout);
  }
  return readFile(cached);
}

/** A llama.cpp source file as text (a chat template). */
export async function readLlamaSourceText(path: string): Promise<string> {
  return (await readLlamaSourceFile(path)).toString("utf8");
}

/** The path of a llama.cpp source file on disk (extracted on first use), for readers that want a path. */
export async function llamaSourcePath(path: string): Promise<string> {
  await readLlamaSourceFile(path);
  return join(await sourceCache(), "files", path);
}

/** The files of a folder of the llama.cpp source (names, not paths), e.g. `models/templates`. */
export async function listLlamaSourceFiles(folder: string): Promise<string[]> {
  const { stdout } = await run(
    "git",
    ["--git-dir", join(await sourceCache(), "repo.git"), "ls-tree", "--name-only", `HEAD:${folder}`],
    {
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  return stdout.split("\n").filter((name) => name.length > 0);
}

let cache: Promise<string> | undefined;

function sourceCache(): Promise<string> {
  cache ??= cloneBundle();
  return cache;
}

async function cloneBundle(): Promise<string> {
  const bundle = bundlePath();
  const root = join(workspaceRoot(), "node_modules", ".cache", "llama-source");
  const repo = join(root, "repo.git");
  if (existsSync(join(repo, "HEAD"))) return root;
  await mkdir(root, { recursive: true });
  // Several test workers may get here at once: each clones into its own folder and the first rename wins.
  const temporary = join(root, `repo.git.${process.pid}.${Date.now()}`);
  await run("git", ["clone", "--quiet", "--bare", bundle, temporary]);
  try {
    await rename(temporary, repo);
  } catch {
    await rm(temporary, { recursive: true, force: true });
  }
  return root;
}

function bundlePath(): string {
  // The package exports neither package.json nor the bundle: walk up from its entry point to the package folder.
  let dir = dirname(fileURLToPath(import.meta.resolve("node-llama-cpp")));
  while (!existsSync(join(dir, "llama", "gitRelease.bundle"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("node-llama-cpp's llama/gitRelease.bundle was not found");
    dir = parent;
  }
  return join(dir, "llama", "gitRelease.bundle");
}

function workspaceRoot(): string {
  return fileURLToPath(new URL("../../../../", import.meta.url));
}

async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temporary, bytes);
  await rename(temporary, path);
}
