/**
 * How a model family writes a tool call, chosen from its chat template by the markers llama.cpp's `common/chat.cpp`
 * keys on (the bundled llama.cpp source): the template renders the history's calls the way the model was trained to
 * write them, so the markers it contains name the syntax.
 *
 * - `hermes`: Hermes 2/3, Qwen2.5, Qwen3, SmolLM3 ... `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`,
 *   one block per call;
 * - `llama3`: Llama 3.1/3.2/3.3, a bare JSON object `{"name": ..., "parameters": {...}}`, optionally after
 *   `<|python_tag|>`;
 * - `mistral`: Mistral Nemo / Small 3.0, `[TOOL_CALLS][{"name": ..., "arguments": {...}}, ...]`;
 * - `mistral-args`: Mistral Small 3.2, Devstral, Ministral 3, `[TOOL_CALLS]name[ARGS]{...}` per call (with an
 *   optional `[CALL_ID]id` before `[ARGS]`);
 * - `generic`: any other template. The model answers one JSON object, `{"tool_call": {"name", "arguments"}}`,
 *   `{"tool_calls": [...]}` or `{"response": ...}` (llama.cpp's former generic format, for fine-tunes trained on it);
 *   `required` and named functions force it by grammar.
 * Call syntaxes of other families (Qwen3-Coder's XML, Gemma 4, gpt-oss, DeepSeek, Kimi, ...) are not parsed: their
 * templates fall back to `generic`.
 */
export type ToolFormatName = "hermes" | "llama3" | "mistral" | "mistral-args" | "generic";

export interface ToolFormat {
  name: ToolFormatName;
  /** Texts that begin a call; the parser holds back output from any of them (or a partial one at the end). */
  starts: readonly string[];
  /** Marker texts that are control tokens in the family's vocabulary: decoded as text so the parser can see them. */
  preserve: readonly string[];
  /** Mistral's templates refuse ids that are not 9 alphanumerics; the others get OpenAI-style `call_...` ids. */
  idStyle: "openai" | "mistral";
  /** Whether parallel calls can be written (Llama 3.x writes one call per turn). */
  parallel: boolean;
}

const FORMATS: Record<ToolFormatName, ToolFormat> = {
  hermes: {
    name: "hermes",
    starts: ["<tool_call>"],
    preserve: ["<tool_call>", "</tool_call>"],
    idStyle: "openai",
    parallel: true,
  },
  llama3: {
    name: "llama3",
    starts: ["<|python_tag|>", "{"],
    preserve: ["<|python_tag|>"],
    idStyle: "openai",
    parallel: false,
  },
  mistral: {
    name: "mistral",
    starts: ["[TOOL_CALLS]"],
    preserve: ["[TOOL_CALLS]"],
    idStyle: "mistral",
    parallel: true,
  },
  "mistral-args": {
    name: "mistral-args",
    starts: ["[TOOL_CALLS]"],
    preserve: ["[TOOL_CALLS]", "[ARGS]", "[CALL_ID]"],
    idStyle: "mistral",
    parallel: true,
  },
  generic: { name: "generic", starts: ["{"], preserve: [], idStyle: "openai", parallel: true },
};

export function toolFormat(name: ToolFormatName): ToolFormat {
  return FORMATS[name];
}

/** The call syntax a chat template implies (see above); `generic` when it shows none of the known markers. */
export function detectToolFormat(templateText: string): ToolFormat {
  const has = (marker: string) => templateText.includes(marker);
  if (has("[TOOL_CALLS]")) return FORMATS[has("[ARGS]") ? "mistral-args" : "mistral"];
  // Qwen3-Coder writes `<tool_call><function=...><parameter=...>` (XML arguments): not this JSON syntax.
  if (has("<tool_call>") && !has("<function=")) return FORMATS.hermes;
  if (has("<|python_tag|>") || (has("<|start_header_id|>") && has('"parameters"'))) return FORMATS.llama3;
  return FORMATS.generic;
}
