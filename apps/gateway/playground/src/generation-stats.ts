/** What the stats line shows after a generation. */
export interface GenerationStats {
  /** From the final usage chunk; when the generation was stopped (no usage), the number of text chunks received. */
  completionTokens: number;
  /** True when completionTokens is the chunk count (each text chunk carries about one token). */
  estimated: boolean;
  /** Decoding speed: tokens after the first, over the time from the first to the last text chunk. */
  tokensPerSecond: number | null;
  /** Milliseconds from sending the request to the first text chunk (prompt processing + network). */
  firstTokenMs: number | null;
}

export interface GenerationTiming {
  /** performance.now() values. */
  sentAt: number;
  firstTextAt: number | null;
  lastTextAt: number | null;
  textChunks: number;
  completionTokens: number | null;
}

export function generationStats(timing: GenerationTiming): GenerationStats {
  const estimated = timing.completionTokens === null;
  const completionTokens = timing.completionTokens ?? timing.textChunks;
  const firstTokenMs = timing.firstTextAt === null ? null : timing.firstTextAt - timing.sentAt;
  let tokensPerSecond: number | null = null;
  if (timing.firstTextAt !== null && timing.lastTextAt !== null && completionTokens > 1) {
    const seconds = (timing.lastTextAt - timing.firstTextAt) / 1000;
    if (seconds > 0) tokensPerSecond = (completionTokens - 1) / seconds;
  }
  return { completionTokens, estimated, tokensPerSecond, firstTokenMs };
}
