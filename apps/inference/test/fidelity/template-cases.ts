/**
 * The conversations every bundled chat template is rendered with, by llama-server (`pnpm fidelity:record`, into
 * goldens/templates.json) and by inference's renderer (template-fidelity.test.ts): plain turns, a system message,
 * tools, text parts and thinking turned off.
 */
export const TEMPLATE_CASES: ReadonlyArray<{ name: string; body: Record<string, unknown> }> = [
  { name: "one-user", body: { messages: [{ role: "user", content: "Hello!" }] } },
  { name: "system-user", body: { messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }] } },
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
  { name: "content-parts", body: { messages: [{ role: "user", content: [{ type: "text", text: "P1" }, { type: "text", text: "P2" }] }] } },
  { name: "thinking-off", body: { messages: [{ role: "user", content: "Hi" }], chat_template_kwargs: { enable_thinking: false } } },
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
