import { Template } from "@huggingface/jinja";
import "./jinja-compat.ts";
import { ApiError, messageText, SafeError } from "@slm/config";
import { detectReasoningTags, type ReasoningTags } from "./reasoning.ts";

/**
 * The model's chat template, rendered the way transformers' `apply_chat_template` and llama-server render it: the whole
 * conversation in one pass of the Jinja template (with @huggingface/jinja, the Hub's own port of the renderer), so the
 * result is the exact string the model was trained on. The string is tokenized in one piece afterwards
 * (tokenize-prompt.ts); rendering around placeholders and tokenizing pieces separately, as node-llama-cpp's
 * JinjaTemplateChatWrapper does, changes merges at piece boundaries, SentencePiece space prefixes after special tokens
 * and any template logic keyed on the last message (Qwen3's thinking block). Only caller text holding a control
 * token's text is replaced by a placeholder (`RenderOptions.callerText`), and cut only where llama.cpp cuts anyway
 * (message-text.ts).
 */

/**
 * Used when the GGUF has no chat template and CHAT_TEMPLATE is unset: a plain transcript that any base model can
 * continue. System text first, then `User: ...` / `Assistant: ...` lines, ending with `Assistant:`.
 */
export const DEFAULT_CHAT_TEMPLATE =
  "{% for message in messages %}" +
  "{% if message['role'] == 'system' %}{{ message['content'] }}\n\n" +
  "{% elif message['role'] == 'user' %}User: {{ message['content'] }}\n" +
  "{% else %}Assistant: {{ message['content'] }}\n{% endif %}" +
  "{% endfor %}" +
  "{% if add_generation_prompt %}Assistant:{% endif %}";

/** Extra stop text for the default template: the model starting the next user turn. */
export const DEFAULT_TEMPLATE_STOPS = ["\nUser:"];

/** A message as the request gives it (OpenAI's shape: content is text, or text parts; null beside tool calls). */
export interface TemplateMessage {
  role: string;
  content: string | ReadonlyArray<{ type: "text"; text: string }> | null | undefined;
  name?: string | undefined;
  /** An assistant turn's calls, arguments as JSON text (OpenAI's shape). */
  tool_calls?:
    | ReadonlyArray<{ id: string; type: "function"; function: { name: string; arguments: string } }>
    | null
    | undefined;
  /** A tool result's call id. */
  tool_call_id?: string | null | undefined;
}

export interface RenderOptions {
  messages: readonly TemplateMessage[];
  /** OpenAI `tools` entries (`{type: "function", function: {...}}`), passed as `tools` when present. */
  tools?: readonly unknown[] | undefined;
  /** `chat_template_kwargs`: extra template variables, e.g. `{"enable_thinking": false}`. */
  kwargs?: Readonly<Record<string, unknown>> | undefined;
  /** Default true: end with the assistant turn's opening (the generation prompt). */
  addGenerationPrompt?: boolean;
  /**
   * Applied to every string the caller gave (message fields, tool calls, tools, kwargs; object keys too) as the
   * template gets it (see message-text.ts). Default: none.
   */
  callerText?: ((value: string) => string) | undefined;
}

export interface ChatTemplate {
  source: "gguf" | "config" | "default";
  /** The Jinja source. */
  text: string;
  /** Stop text that comes with the format (only the default transcript has any: its turns are plain text). */
  extraStops: readonly string[];
  /** False when the template ignores or refuses a system message (it is then merged into the next message). */
  supportsSystemRole: boolean;
  /** The thinking tags of a reasoning template (DeepSeek-R1, Qwen3, SmolLM3, ...), as it writes them. */
  reasoningTags: ReasoningTags | undefined;
  /** The template reads a tool call's arguments as an object (`| tojson`): they are passed parsed, as llama-server does. */
  objectArguments: boolean;
  /** The prompt text for these messages, with the generation prompt, as llama-server renders it. */
  render(options: RenderOptions): string;
}

export interface ChatTemplateOptions {
  ggufTemplate?: string | undefined;
  configured?: string | undefined;
  /** The vocabulary's BOS and EOS tokens as text (`bos_token` / `eos_token` in the template); "" when absent. */
  bosToken: string;
  eosToken: string;
  /** The vocabulary asks for BOS / EOS around every prompt: the template's own leading BOS / trailing EOS text is dropped. */
  addBos: boolean;
  addEos: boolean;
}

/** Thrown at startup when the chosen template is not valid Jinja. */
export class ChatTemplateError extends SafeError {
  override readonly name = "ChatTemplateError";
  readonly code = "invalid_chat_template";
  constructor(source: string, detail: string) {
    super(
      `the ${source === "gguf" ? "GGUF's tokenizer.chat_template" : "CHAT_TEMPLATE"} is not a valid Jinja template: ${detail}`,
    );
  }
}

/**
 * The chat format, chosen explicitly (never by file name): the GGUF's own template, else CHAT_TEMPLATE, else the
 * documented default.
 */
export function chooseChatTemplate(options: ChatTemplateOptions): ChatTemplate {
  const source = options.ggufTemplate ? "gguf" : options.configured ? "config" : "default";
  const text = options.ggufTemplate || options.configured || DEFAULT_CHAT_TEMPLATE;
  let compiled: Template;
  try {
    compiled = new Template(text);
  } catch (error) {
    throw new ChatTemplateError(source, error instanceof Error ? error.message : String(error));
  }
  // llama-server maps `developer` to `system` for every template but gpt-oss's (which has a developer role).
  const hasDeveloperRole = text.includes("<|channel|>");
  const run = (variables: Record<string, unknown>): string => {
    let result = compiled.render({
      bos_token: options.bosToken,
      eos_token: options.eosToken,
      ...today(),
      ...variables,
    });
    if (options.addBos && options.bosToken && result.startsWith(options.bosToken))
      result = result.slice(options.bosToken.length);
    if (options.addEos && options.eosToken && result.endsWith(options.eosToken))
      result = result.slice(0, -options.eosToken.length);
    return result;
  };
  const reasoningTags = detectReasoningTags(text, (messages) => run({ messages, enable_thinking: true }));
  // llama-server turns thinking on for the templates that have a thinking section, and tells the others it is off.
  const thinking = reasoningTags !== undefined;
  const supportsSystemRole = probeSystemRole((variables) => run({ ...variables, enable_thinking: thinking }));
  const content = probeContent((variables) => run({ ...variables, enable_thinking: thinking }));
  const objectArguments = probeObjectArguments((variables) => run({ ...variables, enable_thinking: thinking }));
  return {
    source,
    text,
    extraStops: source === "default" ? DEFAULT_TEMPLATE_STOPS : [],
    supportsSystemRole,
    reasoningTags,
    objectArguments,
    render: ({ messages, tools, kwargs, addGenerationPrompt = true, callerText }) => {
      const caller = <V>(value: V): V => (callerText ? (mapStrings(value, callerText) as V) : value);
      let list = messages.map((m) => ({
        ...m,
        role: m.role === "developer" && !hasDeveloperRole ? "system" : m.role,
        content: contentFor(content, m),
      }));
      if (!supportsSystemRole) list = mergeSystemMessage(list);
      try {
        return run({
          messages: list.map((m) => caller(templateMessage(m, objectArguments))),
          // As llama-server: true for templates that think, false for the others; kwargs may override it.
          enable_thinking: thinking,
          ...(tools && tools.length > 0 ? { tools: tools.map((tool) => caller(templateTool(tool))) } : {}),
          ...caller(kwargs),
          ...(addGenerationPrompt ? { add_generation_prompt: true } : {}),
        });
      } catch (error) {
        // raise_exception() in the template, or a template bug: the caller's messages are what it refused.
        const detail = error instanceof Error ? error.message : String(error);
        throw new ApiError(
          400,
          "invalid_request_error",
          "chat_template_error",
          `The model's chat template refused the messages: ${detail}`,
          "messages",
        );
      }
    },
  };
}

/** `value` with `map` applied to every string in it, object keys included (JSON values: no cycles). */
function mapStrings(value: unknown, map: (text: string) => string): unknown {
  if (typeof value === "string") return map(value);
  if (Array.isArray(value)) return value.map((item) => mapStrings(item, map));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [map(key), mapStrings(item, map)]));
  }
  return value;
}

/**
 * A message as llama-server hands it to the template (common_chat_msg::to_json_oaicompat): role, content ("" when
 * absent), then name, tool_call_id and tool_calls (`{type, function: {name, arguments}, id}`) when present, the
 * arguments parsed into an object for templates that read them as one.
 */
function templateMessage(
  m: TemplateMessage & { content: TemplateMessage["content"] },
  objectArguments: boolean,
): Record<string, unknown> {
  const message: Record<string, unknown> = { role: m.role, content: m.content ?? "" };
  if (m.name !== undefined) message.name = m.name;
  if (m.tool_call_id != null) message.tool_call_id = m.tool_call_id;
  if (m.tool_calls != null && m.tool_calls.length > 0) {
    message.tool_calls = m.tool_calls.map((call) => ({
      type: "function",
      function: {
        name: call.function.name,
        arguments: objectArguments ? parseArguments(call.function.arguments) : call.function.arguments,
      },
      id: call.id,
    }));
  }
  return message;
}

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(
      400,
      "invalid_request_error",
      "invalid_tool_call_arguments",
      "A tool call's function.arguments in messages is not valid JSON.",
      "messages",
    );
  }
}

/** A tool as llama-server hands it to the template: type, then function with name, description ("" when absent), parameters. */
function templateTool(tool: unknown): unknown {
  const t = tool as { type?: unknown; function?: { name?: unknown; description?: unknown; parameters?: unknown } };
  if (t.type !== "function" || typeof t.function !== "object" || t.function === null) return tool;
  return {
    type: "function",
    function: {
      name: t.function.name,
      description: t.function.description ?? "",
      parameters: t.function.parameters ?? {},
    },
  };
}

/**
 * llama.cpp's object-arguments probe: render a call whose arguments are an object and see whether its value shows up
 * (`arguments | tojson` reads it; a template that prints the arguments as text does not).
 */
function probeObjectArguments(run: (variables: Record<string, unknown>) => string): boolean {
  const marker = "Argument marker 9d2b";
  try {
    return run({
      messages: [
        { role: "user", content: "User message" },
        {
          role: "assistant",
          content: "",
          tool_calls: [{ type: "function", function: { name: "tool1", arguments: { arg: marker } }, id: "call00001" }],
        },
        { role: "tool", content: "Tool response", tool_call_id: "call00001" },
        { role: "assistant", content: "The tool response was 'tool response'" },
        { role: "user", content: "User message" },
      ],
      tools: [
        {
          type: "function",
          function: {
            name: "tool1",
            description: "Tool description",
            parameters: {
              type: "object",
              properties: { arg: { type: "string", description: "Arg description" } },
              required: ["arg"],
            },
          },
        },
      ],
      add_generation_prompt: true,
    }).includes(marker);
  } catch {
    return false;
  }
}

/** The date variables llama-server gives every template (Llama 3.1 prints `date_string` as "Today Date"). */
function today(): { date_string: string; datetime: string } {
  const now = new Date();
  const day = String(now.getDate()).padStart(2, "0");
  const month = now.toLocaleString("en-US", { month: "short" });
  return { date_string: `${day} ${month} ${now.getFullYear()}`, datetime: `${month} ${day} ${now.getFullYear()}` };
}

/**
 * llama.cpp's capability probe: a template supports the system role when a system message's content shows up in the
 * rendered prompt (Gemma's templates raise "System role not supported"; others silently drop it).
 */
function probeSystemRole(run: (variables: Record<string, unknown>) => string): boolean {
  const marker = "System message 7f3a";
  try {
    return run({
      messages: [
        { role: "system", content: marker },
        { role: "user", content: "User message" },
      ],
      add_generation_prompt: true,
    }).includes(marker);
  } catch {
    return false;
  }
}

/** Whether the template renders text content, a list of text parts, or both (then content is passed as given). */
type ContentSupport = "string" | "parts" | "both";

/**
 * llama.cpp's content probe, by behaviour: a template handles parts when a one-part list renders exactly as the same
 * text would (Gemma 4 iterates parts); otherwise parts are joined into text for it, as llama-server joins them.
 */
function probeContent(run: (variables: Record<string, unknown>) => string): ContentSupport {
  const marker = "Content marker 5c1e";
  const attempt = (content: unknown) => {
    try {
      return run({ messages: [{ role: "user", content }], add_generation_prompt: true });
    } catch {
      return undefined;
    }
  };
  const asString = attempt(marker);
  const asParts = attempt([{ type: "text", text: marker }]);
  if (asString !== undefined && asParts === asString) return "both";
  if (asString === undefined && asParts?.includes(marker) && !/["']type["']/.test(asParts)) return "parts";
  return "string";
}

function contentFor(support: ContentSupport, message: TemplateMessage): TemplateMessage["content"] {
  if (message.content == null) return message.content;
  if (support === "both") return message.content;
  if (support === "parts")
    return typeof message.content === "string" ? [{ type: "text", text: message.content }] : message.content;
  return typeof message.content === "string" ? message.content : messageText({ content: [...message.content] });
}

/** What llama-server does for such templates: the first system message is prepended to the next message with "\n". */
function mergeSystemMessage<M extends TemplateMessage>(messages: M[]): M[] {
  const [first, second, ...rest] = messages;
  if (first?.role !== "system") return messages;
  if (!second) return [];
  const text = (m: TemplateMessage) =>
    messageText({ content: typeof m.content === "string" || m.content == null ? m.content : [...m.content] });
  return [{ ...second, content: `${text(first)}\n${text(second)}` }, ...rest];
}
