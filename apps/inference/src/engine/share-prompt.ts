import type { LlamaContextSequence, Token } from "node-llama-cpp";

/** node-llama-cpp 3.22.1's internal copy of one sequence's state (tokens + KV cache) into another (llama_memory_seq_cp). */
interface CopyingSequence {
  _copyStateFromOtherSequence?: (other: LlamaContextSequence, upToTokenIndex: number) => Promise<boolean>;
  /** Tokens a token predictor placed in the KV cache ahead of validation. */
  _loadedTokenPredictions?: unknown[];
}

/** node-llama-cpp's copy "doesn't work with token predictors" while predicted tokens sit in a sequence. */
export const holdsPredictions = (sequence: LlamaContextSequence) =>
  ((sequence as unknown as CopyingSequence)._loadedTokenPredictions?.length ?? 0) > 0;

/**
 * For a request with several choices (`n`): evaluates the prompt, all but its last token, once on the first sequence
 * and copies that state into the others, so each choice's generation finds the prompt cached and evaluates only the
 * last token. node-llama-cpp has no public API for this; its internal `_copyStateFromOtherSequence` (which runs
 * llama.cpp's `llama_memory_seq_cp`, also used by its own chat session code) does it. When it is missing (another
 * node-llama-cpp version) or a copy fails, the choices evaluate the prompt each on their own sequence (prefix reuse
 * still applies): correct, only slower. Returns how many sequences received the copied prompt.
 */
export async function sharePrompt(
  sequences: readonly LlamaContextSequence[],
  prompt: readonly Token[],
): Promise<number> {
  const [first, ...rest] = sequences;
  const head = prompt.slice(0, -1);
  if (!first || rest.length === 0 || head.length === 0) return 0;
  await first.adaptStateToTokens(head, false);
  if (first.nextTokenIndex < head.length)
    await first.evaluateWithoutGeneratingNewTokens(head.slice(first.nextTokenIndex));
  let copied = 0;
  if (holdsPredictions(first)) return copied;
  for (const other of rest) {
    const copy = (other as unknown as CopyingSequence)._copyStateFromOtherSequence;
    if (typeof copy !== "function") break;
    // A sequence that already holds the whole head (a previous request) needs nothing.
    if (other.compareContextTokens(head).firstDifferentIndex >= head.length || holdsPredictions(other)) continue;
    if (await copy.call(other, first, head.length)) copied++;
  }
  return copied;
}
