/** Streams completions over HTTP (OpenAI's /v1/completions with SSE) and times the tokens as they arrive. */

export interface StreamTiming {
  /** Request sent -> first text chunk. */
  firstTokenMs: number;
  /** Request sent -> last byte. */
  totalMs: number;
  /** Text chunks received (one per token for both servers measured here). */
  chunks: number;
  /** Completion tokens, from the usage chunk (`stream_options.include_usage`). */
  tokens: number;
  /** (tokens - 1) / (last chunk - first chunk): the decode rate the client sees. */
  decodeTokensPerSecond: number;
}

export interface StreamRequest {
  url: string;
  prompt: string;
  maxTokens: number;
  headers?: Record<string, string>;
}

/** The `data:` payloads of an SSE body as they arrive, `[DONE]` left out. */
export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const bytes of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(bytes, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event
        .split("\n")
        .find((l) => l.startsWith("data: "))
        ?.slice(6);
      if (data && data !== "[DONE]") yield data;
    }
  }
}

export async function streamCompletion(request: StreamRequest): Promise<StreamTiming> {
  const sent = performance.now();
  const response = await fetch(`${request.url}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...request.headers },
    body: JSON.stringify({
      prompt: request.prompt,
      max_tokens: request.maxTokens,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  if (response.status !== 200 || !response.body) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  let chunks = 0;
  let first = 0;
  let last = 0;
  let tokens = 0;
  for await (const data of sseData(response.body)) {
    const chunk = JSON.parse(data) as {
      choices?: Array<{ text?: string }>;
      usage?: { completion_tokens?: number } | null;
    };
    if (chunk.usage?.completion_tokens !== undefined) tokens = chunk.usage.completion_tokens;
    const text = chunk.choices?.[0]?.text;
    if (text) {
      const now = performance.now();
      if (chunks === 0) first = now;
      last = now;
      chunks++;
    }
  }
  const totalMs = performance.now() - sent;
  return {
    firstTokenMs: first - sent,
    totalMs,
    chunks,
    tokens,
    decodeTokensPerSecond: chunks > 1 ? ((chunks - 1) / (last - first)) * 1000 : 0,
  };
}

/** `streams` simultaneous streams of `maxTokens` each: aggregate tokens per second over the wall time. */
export async function aggregate(
  request: StreamRequest,
  streams: number,
): Promise<{ tokensPerSecond: number; wallMs: number }> {
  const started = performance.now();
  const timings = await Promise.all(
    Array.from({ length: streams }, (_, i) => streamCompletion({ ...request, prompt: `${request.prompt} ${i}` })),
  );
  const wallMs = performance.now() - started;
  const tokens = timings.reduce((sum, t) => sum + t.chunks, 0);
  return { tokensPerSecond: (tokens / wallMs) * 1000, wallMs };
}
