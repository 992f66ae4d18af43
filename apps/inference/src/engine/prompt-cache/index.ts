/** The prompt cache (see prompt-cache.ts): conversations' evaluated states kept in RAM, and on disk when asked. */
export {
  PromptCache,
  PromptCacheScope,
  type PromptCacheEvents,
  type PromptCacheOptions,
  type PromptCacheStats,
} from "./prompt-cache.ts";
export { promptCacheNamespace, type NamespaceParts } from "./entry.ts";
export { defaultPromptCacheBytes } from "./default-size.ts";
