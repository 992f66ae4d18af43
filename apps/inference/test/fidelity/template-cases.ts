/**
 * The conversations every bundled chat template is rendered with, by llama-server (`pnpm fidelity:record`, into
 * goldens/templates.json) and by inference's renderer (template-fidelity.test.ts): plain turns, a system message,
 * tools, a tool call and its result in the history, text parts and thinking turned off.
 */
export const TEMPLATE_CASES: ReadonlyArray<{ name: string; body: Record<string, unknown> }> = [
  { name: "one-user", body: { messages: [{ role: "user", content: "Hello!" }] } },
  {
    name: "system-user",
    body: {
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Hi" },
      ],
    },
  },
  {
    name: "multi-turn",
    body: {
      messages: [
        { role: "user", content: "A" },
        { role: "assistant", content: "B" },
        { role: "user", content: "C" },
      ],
    },
  },
  {
    name: "tools",
    body: {
      messages: [{ role: "user", content: "What is the weather in Paris?" }],
      tools: [
        {
          type: "function",
          function: {
            name: "get_weather",
            description: "Weather",
            parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
          },
        },
      ],
    },
  },
  {
    name: "tool-round-trip",
    body: {
      messages: [
        { role: "user", content: "What is the weather in Paris?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "a1b2c3d4e", type: "function", function: { name: "get_weather", arguments: '{"city": "Paris"}' } },
          ],
        },
        { role: "tool", tool_call_id: "a1b2c3d4e", content: "21 C, clear" },
        { role: "assistant", content: "It is 21 C and clear in Paris." },
        { role: "user", content: "Thanks!" },
      ],
      tools: [
        {
          type: "function",
          function: {
            name: "get_weather",
            description: "Weather",
            parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
          },
        },
      ],
    },
  },
  {
    name: "content-parts",
    body: {
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "P1" },
            { type: "text", text: "P2" },
          ],
        },
      ],
    },
  },
  {
    name: "thinking-off",
    body: { messages: [{ role: "user", content: "Hi" }], chat_template_kwargs: { enable_thinking: false } },
  },
];

/** The vocabulary the template goldens are rendered with (its BOS/EOS text is what `bos_token`/`eos_token` show). */
export const TEMPLATE_VOCAB = "llama-bpe";
export const TEMPLATE_BOS = "<|begin_of_text|>";
export const TEMPLATE_EOS = "<|end_of_text|>";

export interface TemplateGolden {
  recordedWith: string;
  /** When they were rendered: templates print today's date, so the test renders at the same instant. */
  recordedAt: string;
  /** template file -> case name -> llama-server's prompt, or `{ error }` when it refused. */
  prompts: Record<string, Record<string, string | { error: number }>>;
}
