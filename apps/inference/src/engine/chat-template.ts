import { JinjaTemplateChatWrapper, type ChatWrapper } from "node-llama-cpp";

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

export interface ChosenTemplate {
  wrapper: ChatWrapper;
  source: "gguf" | "config" | "default";
  extraStops: readonly string[];
}

/**
 * The chat format, chosen explicitly (never by file name): the GGUF's own template, else CHAT_TEMPLATE, else the
 * documented default.
 */
export function chooseChatTemplate(options: { ggufTemplate?: string | undefined; configured?: string | undefined }): ChosenTemplate {
  if (options.ggufTemplate) {
    return { wrapper: jinja(options.ggufTemplate), source: "gguf", extraStops: [] };
  }
  if (options.configured) {
    return { wrapper: jinja(options.configured), source: "config", extraStops: [] };
  }
  return { wrapper: jinja(DEFAULT_CHAT_TEMPLATE), source: "default", extraStops: DEFAULT_TEMPLATE_STOPS };
}

function jinja(template: string): ChatWrapper {
  return new JinjaTemplateChatWrapper({ template, convertUnsupportedSystemMessagesToUserMessages: "auto" });
}
