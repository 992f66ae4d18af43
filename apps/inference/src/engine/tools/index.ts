export { detectToolFormat, toolFormat, type ToolFormat, type ToolFormatName } from "./tool-format.ts";
export {
  newToolCallId,
  parseToolCalls,
  ToolCallStream,
  toolMessage,
  type ParsedCall,
  type ParseOptions,
  type ParsedOutput,
  type ToolStreamDelta,
} from "./tool-call-parser.ts";
export { embedSchemaGrammar, lazyTrigger, toolCallGrammar, type ToolGrammarOptions } from "./tool-grammar.ts";
export { forcedCallGrammar, lazyCallGrammar, planTools, type ToolPlan } from "./tool-plan.ts";
