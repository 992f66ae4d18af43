// Benchmark-only preload for apps/inference (node --import <this file>, via NODE_OPTIONS; see short-prompt.ts):
// timestamps the stages of each HTTP request without touching the service's code. It wraps node-llama-cpp's
// methods on their prototypes (the service imports the same module instance) and the native context's decode and
// sample calls, and takes the request's start and the response's writes from node:http. One request at a time is
// assumed (the benchmark sends them so); each finished request prints one line: {"trace": {stage: ms from start}}.
// Plain JavaScript, so that it loads before the TypeScript loader.
import { subscribe } from "node:diagnostics_channel";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

// Only the service's own process: the processes it forks (node-llama-cpp's binary self-test) get nothing.
delete process.env.NODE_OPTIONS;
const require = createRequire(new URL("../../apps/inference/package.json", import.meta.url));
const nlc = await import(pathToFileURL(require.resolve("node-llama-cpp")).href);

/** @type {{ start: number, marks: Array<[string, number]> } | undefined} */
let current;
const mark = (name) => {
  if (current) current.marks.push([name, performance.now() - current.start]);
};

subscribe("http.server.request.start", ({ request, response }) => {
  if (request.method !== "POST") return;
  const trace = { start: performance.now(), marks: [] };
  current = trace;
  let writes = 0;
  const write = response.write;
  response.write = function (...args) {
    if (writes++ < 3) mark(`write${writes}`);
    return write.apply(this, args);
  };
  response.once("finish", () => {
    mark("finish");
    if (current === trace) current = undefined;
    process.stderr.write(`${JSON.stringify({ trace: Object.fromEntries(dedupe(trace.marks)) })}\n`);
  });
});

/** Repeated marks keep their first occurrence, later ones get a suffix (#2, #3). */
function dedupe(marks) {
  const seen = new Map();
  return marks.map(([name, at]) => {
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    return [n === 1 ? name : `${name}#${n}`, Math.round(at * 100) / 100];
  });
}

function wrap(target, name, label, { async = false } = {}) {
  const original = target[name];
  if (typeof original !== "function") return;
  Object.defineProperty(target, name, {
    configurable: true,
    writable: true,
    value: function (...args) {
      mark(`${label}:start`);
      const result = original.apply(this, args);
      if (async && result && typeof result.then === "function") return result.finally(() => mark(`${label}:end`));
      mark(`${label}:end`);
      return result;
    },
  });
}

wrap(nlc.LlamaModel.prototype, "tokenize", "tokenize");
wrap(nlc.LlamaContextSequence.prototype, "compareContextTokens", "compareContextTokens");
wrap(nlc.LlamaContextSequence.prototype, "adaptStateToTokens", "adaptStateToTokens", { async: true });
wrap(nlc.LlamaContextSequence.prototype, "evaluateWithMetadata", "evaluateWithMetadata");

// The native context of each LlamaContext: its decode and sample calls, shadowed on the instance when first seen.
const patched = new WeakSet();
const dispatch = nlc.LlamaContext.prototype.dispatchPendingBatch;
nlc.LlamaContext.prototype.dispatchPendingBatch = function (...args) {
  mark("dispatchPendingBatch");
  const native = this._ctx;
  if (native && !patched.has(native)) {
    patched.add(native);
    for (const name of ["decodeBatch", "sampleToken"]) {
      const original = native[name].bind(native);
      Object.defineProperty(native, name, {
        configurable: true,
        value: (...a) => {
          mark(`${name}:start`);
          return original(...a).finally(() => mark(`${name}:end`));
        },
      });
    }
  }
  return dispatch.apply(this, args);
};
