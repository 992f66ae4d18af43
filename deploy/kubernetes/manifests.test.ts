import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { validateKustomization } from "./validate-manifests.ts";

const dir = fileURLToPath(new URL(".", import.meta.url));
const scratch: string[] = [];
afterAll(() => Promise.all(scratch.map((d) => rm(d, { recursive: true, force: true }))));

/** A copy of the manifests with each edit applied (each must change its file, or the test is wrong). */
async function brokenCopy(edits: { file: string; from: string | RegExp; to: string }[]): Promise<string> {
  const copy = await mkdtemp(join(tmpdir(), "slm-k8s-"));
  scratch.push(copy);
  for (const file of (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)))
    await cp(join(dir, file), join(copy, file));
  for (const edit of edits) {
    const path = join(copy, edit.file);
    const text = await readFile(path, "utf8");
    const changed = text.replace(edit.from, edit.to);
    expect(changed, `${edit.file}: ${String(edit.from)}`).not.toBe(text);
    await writeFile(path, changed);
  }
  return copy;
}

describe("deploy/kubernetes", () => {
  it("validates against the Kubernetes API schemas, strictly, with every reference resolved", async () => {
    expect(await validateKustomization(dir)).toEqual([]);
  }, 60_000);

  it("reports every fault of a deliberately broken copy", async () => {
    const copy = await brokenCopy([
      { file: "gateway-deployment.yaml", from: "readinessProbe:", to: "readinessProbes:" },
      { file: "gateway-hpa.yaml", from: "minReplicas: 2", to: "minReplicas: two" },
      {
        file: "inference-deployment.yaml",
        from: "failureThreshold: 120",
        to: "failureThreshold: 120\n            periodSecond: 5",
      },
      { file: "kustomization.yaml", from: "  - gateway-pdb.yaml", to: "  - gateway-pdb.yaml\n  - redis.yaml" },
      {
        file: "inference-networkpolicy.yaml",
        from: /app.kubernetes.io\/name: slm-serve-gateway/,
        to: "app.kubernetes.io/name: slm-serve-gatway",
      },
      { file: "config.yaml", from: "MODEL_VERSION:", to: "MODEL_VERISON:" },
      { file: "gateway-deployment.yaml", from: "key: REDIS_URL", to: "key: REDIS_URI" },
      { file: "inference-service.yaml", from: "targetPort: http", to: "targetPort: http\n  selectors: {}" },
    ]);
    const problems = (await validateKustomization(copy)).join("\n");
    expect(problems).toMatch(
      /gateway-deployment\.yaml: Deployment slm-serve-gateway: .*'"?readinessProbes"?' does not exist/,
    );
    expect(problems).toMatch(
      /gateway-hpa\.yaml: HorizontalPodAutoscaler slm-serve-gateway: .*minReplicas must be integer/,
    );
    expect(problems).toMatch(/inference-deployment\.yaml: .*'"?periodSecond"?' does not exist/);
    expect(problems).toMatch(/resource redis\.yaml does not exist/);
    expect(problems).toMatch(
      /NetworkPolicy slm-serve-inference-from-gateway: ingress from a podSelector that matches no pod/,
    );
    expect(problems).toMatch(/ConfigMap slm-serve-model sets MODEL_VERISON, which no app reads/);
    expect(problems).toMatch(/Secret slm-serve-internal has no key REDIS_URI/);
    expect(problems).toMatch(/inference-service\.yaml: Service slm-serve-inference: .*'"?selectors"?' does not exist/);
  }, 60_000);
});
