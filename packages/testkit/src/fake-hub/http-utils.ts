import type { IncomingMessage, ServerResponse } from "node:http";

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string | number> = {},
): void {
  const payload = Buffer.from(JSON.stringify(body), "utf8");
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": payload.byteLength,
    ...headers,
  });
  res.end(payload);
}

export function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  const payload = Buffer.from(text, "utf8");
  res.writeHead(status, {
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": payload.byteLength,
    ...headers,
  });
  res.end(payload);
}

export async function readBody(req: IncomingMessage, limit = 1 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    total += buf.byteLength;
    if (total > limit) {
      throw new Error("request body too large");
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

export function lowerCaseHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) {
      out[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
    }
  }
  return out;
}

export type RangeResult = { start: number; end: number } | "unsatisfiable" | undefined;

/**
 * Parses a single `Range: bytes=a-b`, `bytes=a-` or `bytes=-n` (suffix) header.
 * Returns undefined when the header is absent or malformed (serve the whole body), and only honours the
 * first range of a multi-range request. `end` is inclusive.
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (!header) return undefined;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*(?:,.*)?$/i.exec(header);
  if (!match) return undefined;
  const [, startText = "", endText = ""] = match;
  if (startText === "" && endText === "") return undefined;
  if (startText === "") {
    const suffix = Number(endText);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(startText);
  let end = endText === "" ? size - 1 : Number(endText);
  if (endText !== "" && end < start) return undefined;
  if (start >= size) return "unsatisfiable";
  end = Math.min(end, size - 1);
  return { start, end };
}

/** Splits a raw pathname into percent-decoded segments (undefined if it cannot be decoded). */
export function decodeSegments(pathname: string): string[] | undefined {
  try {
    return pathname
      .split("/")
      .filter((s) => s !== "")
      .map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
}

export function contentTypeFor(path: string): string {
  const lower = path.toLowerCase();
  if (lower.endsWith(".json")) return "application/json; charset=utf-8";
  if (
    /\.(md|txt|py|yaml|yml|jinja|gitattributes)$/.test(lower) ||
    lower.endsWith("/.gitattributes") ||
    lower === ".gitattributes"
  ) {
    return "text/plain; charset=utf-8";
  }
  return "application/octet-stream";
}
