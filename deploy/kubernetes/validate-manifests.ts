/**
 * Checks a kustomization directory the way `kubectl apply -k --validate=strict` would, without a cluster:
 *
 * - kustomize's part: every file `resources` lists exists, and every manifest in the directory is listed;
 * - the Kubernetes API schemas (the `kubernetes-models` package, generated from the API's OpenAPI spec): types,
 *   required fields, enums, formats. Its validators accept unknown fields, so
 * - unknown fields (a typo such as `readinessProbes`) are found by TypeScript's excess-property check against the
 *   same package's types: each manifest becomes `const r: IDeployment = {...}` in memory and is type-checked;
 * - what no schema sees: selectors that select nothing, references to Secrets, ConfigMaps, keys, claims, volumes and
 *   named ports that do not exist, images kustomize does not rewrite, and environment variables the apps do not
 *   know (the root .env.example lists them all).
 *
 * Hand-written glue: no npm package validates a kustomization offline with strict fields (kubeconform and
 * kubectl are Go binaries that would need a download).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import ts from "typescript";
import { parseAllDocuments, parse } from "yaml";

export interface Manifest {
  file: string;
  doc: Record<string, any>;
}

const here = dirname(new URL(import.meta.url).pathname);

/** The installed kubernetes-models package (its types are looked up by file: its exports map has no `require`). */
function modelsDir(): string {
  for (let dir = here; dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, "node_modules/kubernetes-models");
    if (existsSync(candidate)) return candidate;
  }
  throw new Error("kubernetes-models is not installed");
}

/** `kubernetes-models/<group>/<version>/<Kind>` (core group: `kubernetes-models/<version>/<Kind>`). */
function modelModule(apiVersion: string, kind: string): string {
  return `kubernetes-models/${apiVersion}/${kind}`;
}

/** Every problem found, one line each, naming the file; empty when the directory is valid. */
export async function validateKustomization(
  dir: string,
  envExample = resolve(here, "../../.env.example"),
): Promise<string[]> {
  const problems: string[] = [];
  const kustomization = parse(readFileSync(join(dir, "kustomization.yaml"), "utf8")) as Record<string, any>;
  const resources = (kustomization.resources ?? []) as string[];
  for (const file of resources) {
    if (!existsSync(join(dir, file))) problems.push(`kustomization.yaml: resource ${file} does not exist`);
  }
  for (const file of readdirSync(dir)) {
    if (/\.ya?ml$/.test(file) && file !== "kustomization.yaml" && !resources.includes(file)) {
      problems.push(`kustomization.yaml: ${file} is not listed in resources`);
    }
  }

  const manifests: Manifest[] = [];
  for (const file of resources.filter((f) => existsSync(join(dir, f)))) {
    for (const document of parseAllDocuments(readFileSync(join(dir, file), "utf8"))) {
      if (document.errors.length > 0) {
        problems.push(...document.errors.map((e) => `${file}: ${e.message}`));
        continue;
      }
      const doc = document.toJS() as Record<string, any> | null;
      if (doc) manifests.push({ file, doc });
    }
  }

  for (const { file, doc } of manifests) {
    const where = `${file}: ${String(doc.kind)} ${String(doc.metadata?.name)}`;
    let Model: (new (data: unknown) => { validate(): void }) | undefined;
    try {
      Model = ((await import(modelModule(String(doc.apiVersion), String(doc.kind)))) as Record<string, any>)[doc.kind];
    } catch {
      problems.push(`${where}: unknown apiVersion/kind ${String(doc.apiVersion)} ${String(doc.kind)}`);
      continue;
    }
    try {
      new Model!(doc).validate();
    } catch (err) {
      problems.push(`${where}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  problems.push(...unknownFields(manifests));
  problems.push(...crossReferences(manifests, kustomization, envExample));
  return problems;
}

/** TypeScript's excess-property check of every manifest against kubernetes-models' interface for its kind. */
function unknownFields(manifests: Manifest[]): string[] {
  const models = modelsDir();
  const known = manifests.filter(({ doc }) =>
    existsSync(join(models, String(doc.apiVersion), `${String(doc.kind)}.d.ts`)),
  );
  const lines: string[] = [];
  const owners: Manifest[] = [];
  known.forEach((manifest, i) => {
    const { apiVersion, kind } = manifest.doc;
    lines.push(`import type { I${kind} as T${i} } from "${modelModule(apiVersion, kind)}";`);
  });
  known.forEach((manifest, i) => {
    const body = JSON.stringify(manifest.doc, null, 1).split("\n");
    lines.push(`export const r${i}: T${i} = ${body[0]}`, ...body.slice(1), ";");
    for (let n = 0; n < body.length + 1; n++) owners[lines.length - body.length - 1 + n] = manifest;
  });
  const fileName = join(here, "__manifests__.ts");
  const source = lines.join("\n");
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, ...rest) =>
    name === fileName ? ts.createSourceFile(name, source, version) : getSourceFile(name, version, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === fileName || fileExists(name);
  const program = ts.createProgram([fileName], options, host);
  return program.getSemanticDiagnostics(program.getSourceFile(fileName)).map((d) => {
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
    const owner = owners[line];
    const field =
      line >= 0
        ? lines[line]!.trim()
            .replace(/[\s:,{[]+$/, "")
            .slice(0, 80)
        : "";
    const what = owner ? `${owner.file}: ${String(owner.doc.kind)} ${String(owner.doc.metadata?.name)}` : "manifests";
    return `${what}: ${field ? `at ${field}: ` : ""}${ts.flattenDiagnosticMessageText(d.messageText, " ")}`;
  });
}

function matches(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** Names of every variable the apps read: the root .env.example lists each (`NAME=` or `# NAME=`). */
function knownVariables(envExample: string): Set<string> {
  const names = new Set<string>();
  for (const line of readFileSync(envExample, "utf8").split("\n")) {
    const m = /^#?\s?([A-Z][A-Z0-9_]*)=/.exec(line);
    if (m) names.add(m[1]!);
  }
  return names;
}

function crossReferences(manifests: Manifest[], kustomization: Record<string, any>, envExample: string): string[] {
  const problems: string[] = [];
  const byKind = (kind: string) => manifests.filter((m) => m.doc.kind === kind);
  const named = (kind: string, name: string) => byKind(kind).find((m) => m.doc.metadata?.name === name);
  const workloads = byKind("Deployment");
  const podLabels = workloads.map((w) => w.doc.spec?.template?.metadata?.labels as Record<string, string> | undefined);
  const selectsPods = (selector: Record<string, string> | undefined) =>
    podLabels.some((labels) => matches(selector, labels));
  const variables = knownVariables(envExample);
  const images = new Set(((kustomization.images ?? []) as { name: string }[]).map((i) => i.name));

  for (const { file, doc } of workloads) {
    const where = `${file}: Deployment ${String(doc.metadata?.name)}`;
    const pod = doc.spec?.template?.spec ?? {};
    if (!matches(doc.spec?.selector?.matchLabels, doc.spec?.template?.metadata?.labels)) {
      problems.push(`${where}: spec.selector does not select the pod template's labels`);
    }
    const volumes = new Set(((pod.volumes ?? []) as { name: string }[]).map((v) => v.name));
    for (const volume of (pod.volumes ?? []) as Record<string, any>[]) {
      if (volume.secret && !named("Secret", volume.secret.secretName))
        problems.push(`${where}: volume ${volume.name}: no Secret ${volume.secret.secretName}`);
      if (volume.configMap && !named("ConfigMap", volume.configMap.name))
        problems.push(`${where}: volume ${volume.name}: no ConfigMap ${volume.configMap.name}`);
      if (volume.persistentVolumeClaim && !named("PersistentVolumeClaim", volume.persistentVolumeClaim.claimName)) {
        problems.push(
          `${where}: volume ${volume.name}: no PersistentVolumeClaim ${volume.persistentVolumeClaim.claimName}`,
        );
      }
    }
    for (const container of [...(pod.initContainers ?? []), ...(pod.containers ?? [])] as Record<string, any>[]) {
      const at = `${where}: container ${String(container.name)}`;
      if (!images.has(container.image))
        problems.push(`${at}: image ${String(container.image)} is not in kustomization.yaml's images`);
      for (const mount of (container.volumeMounts ?? []) as { name: string }[]) {
        if (!volumes.has(mount.name)) problems.push(`${at}: volumeMount ${mount.name} has no volume`);
      }
      const ports = new Set(((container.ports ?? []) as { name?: string }[]).map((p) => p.name));
      for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
        const port = container[probe]?.httpGet?.port;
        if (typeof port === "string" && !ports.has(port))
          problems.push(`${at}: ${probe} port ${port} is not a container port`);
      }
      for (const source of (container.envFrom ?? []) as Record<string, any>[]) {
        if (source.secretRef && !named("Secret", source.secretRef.name))
          problems.push(`${at}: envFrom: no Secret ${source.secretRef.name}`);
        const map = source.configMapRef && named("ConfigMap", source.configMapRef.name);
        if (source.configMapRef && !map) problems.push(`${at}: envFrom: no ConfigMap ${source.configMapRef.name}`);
        for (const key of Object.keys(map?.doc.data ?? {})) {
          if (!variables.has(key))
            problems.push(`${at}: ConfigMap ${source.configMapRef.name} sets ${key}, which no app reads`);
        }
      }
      for (const env of (container.env ?? []) as Record<string, any>[]) {
        if (!variables.has(env.name)) problems.push(`${at}: env ${String(env.name)} is not a variable the apps read`);
        const ref = env.valueFrom?.secretKeyRef ?? env.valueFrom?.configMapKeyRef;
        if (!ref) continue;
        const kind = env.valueFrom.secretKeyRef ? "Secret" : "ConfigMap";
        const target = named(kind, ref.name);
        const keys = { ...(target?.doc.data ?? {}), ...(target?.doc.stringData ?? {}) };
        if (!target) problems.push(`${at}: env ${String(env.name)}: no ${kind} ${ref.name}`);
        else if (!(ref.key in keys))
          problems.push(`${at}: env ${String(env.name)}: ${kind} ${ref.name} has no key ${ref.key}`);
      }
    }
  }
  for (const { file, doc } of byKind("Service")) {
    if (!selectsPods(doc.spec?.selector))
      problems.push(`${file}: Service ${String(doc.metadata?.name)}: its selector matches no pod`);
  }
  for (const { file, doc } of byKind("PodDisruptionBudget")) {
    if (!selectsPods(doc.spec?.selector?.matchLabels))
      problems.push(`${file}: PodDisruptionBudget ${String(doc.metadata?.name)}: its selector matches no pod`);
  }
  for (const { file, doc } of byKind("NetworkPolicy")) {
    const where = `${file}: NetworkPolicy ${String(doc.metadata?.name)}`;
    if (!selectsPods(doc.spec?.podSelector?.matchLabels)) problems.push(`${where}: podSelector matches no pod`);
    for (const rule of (doc.spec?.ingress ?? []) as Record<string, any>[]) {
      for (const peer of (rule.from ?? []) as Record<string, any>[]) {
        if (peer.podSelector && !selectsPods(peer.podSelector.matchLabels))
          problems.push(`${where}: ingress from a podSelector that matches no pod`);
      }
    }
  }
  for (const { file, doc } of byKind("HorizontalPodAutoscaler")) {
    const target = doc.spec?.scaleTargetRef ?? {};
    if (!named(String(target.kind), String(target.name)))
      problems.push(
        `${file}: HorizontalPodAutoscaler ${String(doc.metadata?.name)}: no ${String(target.kind)} ${String(target.name)} to scale`,
      );
  }
  return problems;
}
