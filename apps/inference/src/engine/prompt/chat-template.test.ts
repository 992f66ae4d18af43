import { describe, expect, it } from "vitest";
import { ApiError } from "@slm/config";
import { ChatTemplateError, chooseChatTemplate, DEFAULT_TEMPLATE_STOPS } from "./chat-template.ts";

const CHATML =
  "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}" +
  "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
// Gemma 2's template, as the model family ships it: a system message is an error.
const GEMMA2 =
  "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}" +
  "{% for message in messages %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}" +
  "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}";

const tokens = { bosToken: "<s>", eosToken: "</s>", addBos: true, addEos: false };

describe("chooseChatTemplate", () => {
  it("renders the whole conversation once, without the BOS text the tokenizer adds anyway", () => {
    const template = chooseChatTemplate({ ggufTemplate: CHATML, ...tokens });
    expect(template.source).toBe("gguf");
    expect(template.render({ messages: [{ role: "user", content: "Hi" }] })).toBe(
      "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    );
    // A vocabulary that does not add BOS keeps the template's.
    const noBos = chooseChatTemplate({ ggufTemplate: CHATML, ...tokens, addBos: false });
    expect(noBos.render({ messages: [{ role: "user", content: "Hi" }] }).startsWith("<s><|im_start|>")).toBe(true);
  });

  it("merges a system message into the next one for templates that refuse it, as llama-server does", () => {
    const template = chooseChatTemplate({ ggufTemplate: GEMMA2, ...tokens });
    expect(template.supportsSystemRole).toBe(false);
    const prompt = template.render({
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Hi" },
      ],
    });
    expect(prompt).toBe("<start_of_turn>user\nBe brief.\nHi<end_of_turn>\n<start_of_turn>model\n");
    expect(template.render({ messages: [{ role: "system", content: "Only this." }] })).toBe("<start_of_turn>model\n");
    expect(chooseChatTemplate({ ggufTemplate: CHATML, ...tokens }).supportsSystemRole).toBe(true);
  });

  it("maps developer to system, passes tools, enable_thinking (false: no thinking section) and chat_template_kwargs", () => {
    const template = chooseChatTemplate({
      ggufTemplate:
        "{{ messages[0].role }}:{{ messages[0].content }}|{{ enable_thinking }}|{{ tools | length if tools is defined else 'none' }}|{{ flavour | default('plain') }}",
      ...tokens,
    });
    const tool = { type: "function", function: { name: "f" } };
    expect(template.render({ messages: [{ role: "developer", content: "x" }] })).toBe("system:x|false|none|plain");
    expect(
      template.render({
        messages: [{ role: "user", content: "x" }],
        tools: [tool],
        kwargs: { enable_thinking: true, flavour: "spicy" },
      }),
    ).toBe("user:x|true|1|spicy");
  });

  it("offers strftime_now and tojson like transformers", () => {
    const template = chooseChatTemplate({
      ggufTemplate: "{{ strftime_now('%Y') }} {{ messages[0] | tojson }}",
      ...tokens,
    });
    expect(template.render({ messages: [{ role: "user", content: "é" }] })).toBe(
      `${new Date().getFullYear()} {"role": "user", "content": "é"}`,
    );
  });

  it("a template that refuses the messages is a 400, an invalid one fails at startup", () => {
    const template = chooseChatTemplate({
      ggufTemplate: "{{ raise_exception('Conversation roles must alternate') }}",
      ...tokens,
    });
    expect(() => template.render({ messages: [{ role: "user", content: "x" }] })).toThrow(ApiError);
    expect(() => chooseChatTemplate({ ggufTemplate: "{% for %}", ...tokens })).toThrow(ChatTemplateError);
  });

  it("falls back to CHAT_TEMPLATE, then to the documented plain transcript with its stop", () => {
    expect(chooseChatTemplate({ configured: CHATML, ...tokens }).source).toBe("config");
    const fallback = chooseChatTemplate({ ...tokens });
    expect(fallback.source).toBe("default");
    expect(fallback.extraStops).toEqual(DEFAULT_TEMPLATE_STOPS);
    expect(fallback.render({ messages: [{ role: "user", content: "Hi" }] })).toBe("User: Hi\nAssistant:");
  });

  it("finds the thinking tags a template writes around reasoning_content", () => {
    const qwen3Like =
      "{% for m in messages %}<|im_start|>{{ m.role }}\n{% if m.reasoning_content is defined %}<think>\n{{ m.reasoning_content }}\n</think>\n\n{% endif %}{{ m.content }}<|im_end|>\n{% endfor %}";
    expect(chooseChatTemplate({ ggufTemplate: qwen3Like, ...tokens }).reasoningTags).toEqual({
      start: { lead: "", core: "<think>", trail: "\n" },
      end: { lead: "\n", core: "</think>", trail: "\n\n" },
      preserve: ["<think>", "</think>"],
    });
    const r1Like = "{% for m in messages %}{% set c = m.content.split('</think>')[-1] %}{{ c }}{% endfor %}<think>\n";
    expect(chooseChatTemplate({ ggufTemplate: r1Like, ...tokens }).reasoningTags?.end.core).toBe("</think>");
    expect(chooseChatTemplate({ ggufTemplate: CHATML, ...tokens }).reasoningTags).toBeUndefined();
  });
});
