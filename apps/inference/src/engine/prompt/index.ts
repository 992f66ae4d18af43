export {
  chooseChatTemplate,
  ChatTemplateError,
  DEFAULT_CHAT_TEMPLATE,
  DEFAULT_TEMPLATE_STOPS,
  type ChatTemplate,
  type ChatTemplateOptions,
  type RenderOptions,
  type TemplateMessage,
} from "./chat-template.ts";
export { specialTokenTexts, tokenizePrompt, withBosEos } from "./tokenize-prompt.ts";
export { controlTokens, MessageText, PromptText, type ControlToken } from "./message-text.ts";
export {
  detectReasoningTags,
  OutputSplitter,
  splitOutput,
  type OutputSyntax,
  type ReasoningTags,
  type SplitText,
} from "./reasoning.ts";
