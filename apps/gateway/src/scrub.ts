import { errorEnvelope, type ApiErrorType, type ErrorEnvelope } from "@slm/config";

/**
 * Scrubbing: messages that come from upstream are shown to public clients (and error messages reach the logs), so
 * anything that reveals the deployment (URLs, addresses, hostnames, filesystem paths, tokens) is replaced by a
 * placeholder. Hand-written: no library knows which parts of an error message are internal.
 */

const SCRUBBERS: ReadonlyArray<readonly [RegExp, string]> = [
  // URLs of any scheme (http, https, ws, file, ...), including their host, port, path and query.
  [/\b[a-z][a-z0-9+.-]{1,15}:\/\/[^\s"'<>`]+/gi, "[url]"],
  // Secrets: Hub tokens, bearer credentials, OpenAI-style keys (including the gateway's own sk-slm-...).
  [/\bhf_[A-Za-z0-9]{6,}/g, "[token]"],
  [/\bBearer\s+[^\s"',;]+/gi, "Bearer [token]"],
  [/\bsk-[A-Za-z0-9_-]{8,}/g, "[token]"],
  // IPv6 in brackets (with an optional port), e.g. [::1]:8081.
  [/\[[0-9a-f:.]*:[0-9a-f:.]*\](?::\d{1,5})?/gi, "[address]"],
  // Bare IPv6 with a "::" (::1, fe80::1, ::ffff:10.0.0.1) or all eight groups.
  [
    /(?<![\w:])(?:[0-9a-f]{1,4}:){0,7}(?:[0-9a-f]{1,4})?::(?:[0-9a-f]{1,4}:){0,6}(?:[0-9a-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?(?![\w:])/gi,
    "[address]",
  ],
  [/(?<![\w:])(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}(?![\w:])/gi, "[address]"],
  // IPv4, with an optional port. All of them: a public address of a backend is as internal as a private one.
  [/\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b/g, "[address]"],
  // Internal hostnames: localhost, *.internal, *.local, *.svc, *.cluster.local, *.lan, *.corp, *.home.arpa.
  [
    /\b(?:[a-z0-9-]+\.)*(?:localhost|[a-z0-9-]+\.(?:internal|local|localdomain|lan|corp|svc|home\.arpa))(?::\d{1,5})?\b/gi,
    "[host]",
  ],
  // host:port (e.g. "inference:8081", "connect ECONNREFUSED db:5432").
  [/\b[a-z][a-z0-9-]*(?:\.[a-z0-9-]+)*:\d{2,5}\b/gi, "[host]"],
  // Absolute filesystem paths with at least two segments (cache dirs, model files, stack frames).
  [/(?<![\w.])\/(?:[\w.@+~-]+\/)+[\w.@+~-]*/g, "[path]"],
  [/\b[A-Z]:\\(?:[^\\\s"']+\\)*[^\\\s"']*/g, "[path]"],
];

/** `secrets`: exact strings (e.g. the internal inference key) replaced first, whatever their shape. */
export function scrub(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join("[token]");
  for (const [pattern, replacement] of SCRUBBERS) out = out.replace(pattern, replacement);
  return out;
}

const WORD = /^[a-z][a-z0-9_]{0,63}$/;
const STATUS_TYPES: ReadonlyArray<readonly [number, ApiErrorType]> = [
  [400, "invalid_request_error"],
  [401, "authentication_error"],
  [403, "permission_error"],
  [404, "not_found_error"],
  [429, "rate_limit_error"],
  [503, "service_unavailable"],
];

/** An envelope as it arrives from upstream: `type` and `code` are any strings until checked. */
export interface UpstreamEnvelope {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/**
 * An upstream envelope made safe to relay: the message (and param) scrubbed, type and code kept only when they are
 * plain identifiers (else derived from the status / dropped).
 */
export function scrubEnvelope(
  envelope: UpstreamEnvelope,
  status: number,
  secrets: readonly string[] = [],
): ErrorEnvelope {
  const { message, type, param, code } = envelope.error;
  const fallbackType =
    STATUS_TYPES.find(([s]) => s === status)?.[1] ?? (status >= 500 ? "server_error" : "invalid_request_error");
  const safeType = WORD.test(type) ? (type as ApiErrorType) : fallbackType;
  return errorEnvelope(safeType, scrub(message, secrets), {
    param: param === null ? null : scrub(param, secrets).slice(0, 256),
    code: code !== null && WORD.test(code) ? code : null,
  });
}
