import { describe, expect, it } from "vitest";
import { OutputSplitter, splitOutput, type OutputSyntax, type ReasoningTags } from "./reasoning.ts";

// The tags llama.cpp's autoparser finds for these templates (see detectReasoningTags), and the answers llama-server
// gives for the same outputs (checked against llama.cpp's own parser built from the bundled source).
const QWEN3: ReasoningTags = {
  start: { lead: "", core: "<think>", trail: "\n" },
  end: { lead: "\n", core: "</think>", trail: "\n\n" },
  preserve: [],
};
const BARE: ReasoningTags = {
  start: { lead: "", core: "<think>", trail: "" },
  end: { lead: "", core: "</think>", trail: "" },
  preserve: [],
};
const qwen3: OutputSyntax = { tags: QWEN3, generationPrompt: "<|im_start|>assistant\n", tools: false, raw: false };
const smollm3: OutputSyntax = { tags: BARE, generationPrompt: "<|im_start|>assistant\n", tools: false, raw: false };
const r1: OutputSyntax = { tags: BARE, generationPrompt: "<｜Assistant｜><think>\n", tools: false, raw: false };

const split = (syntax: OutputSyntax, output: string) => {
  const { reasoning, content } = splitOutput(syntax, output);
  return [content, reasoning];
};

describe("splitOutput (llama-server's answers)", () => {
  it("Qwen3: leading whitespace skipped, tags with their own whitespace consumed, trailing whitespace kept", () => {
    expect(split(qwen3, "  Hello there.  \n")).toEqual(["Hello there.  \n", ""]);
    expect(split(qwen3, "<think>\nhmm\n</think>\n\nAnswer.\n")).toEqual(["Answer.\n", "hmm\n"]);
    expect(split(qwen3, "I am thinking</think>Answer")).toEqual(["I am thinking</think>Answer", ""]);
  });

  it("SmolLM3 (bare tags): whitespace around the tags stays in reasoning and content", () => {
    expect(split(smollm3, "  Hello there.  \n")).toEqual(["Hello there.  \n", ""]);
    expect(split(smollm3, "<think>\nhmm\n</think>\n\nAnswer.\n")).toEqual(["\n\nAnswer.\n", "\nhmm\n"]);
  });

  it("DeepSeek-R1 (thinking opened by the prompt): everything before </think> is reasoning", () => {
    expect(split(r1, "  Hello there.  \n")).toEqual(["", "\n  Hello there.  \n"]);
    expect(split(r1, "<think>\nhmm\n</think>\n\nAnswer.\n")).toEqual(["\n\nAnswer.\n", "\n<think>\nhmm\n"]);
    expect(split(r1, "I am thinking</think>Answer")).toEqual(["Answer", "\nI am thinking"]);
  });

  it("Qwen3 with thinking off: the prompt's empty section is dropped, the answer is content as generated", () => {
    const off = { ...qwen3, generationPrompt: "<|im_start|>assistant\n<think>\n\n</think>\n\n" };
    expect(split(off, "Hello!")).toEqual(["Hello!", ""]);
    const smolOff = { ...smollm3, generationPrompt: "<|im_start|>assistant\n<think>\n\n</think>\n" };
    expect(split(smolOff, "Hello!")).toEqual(["\nHello!", ""]);
  });

  it('reasoning_format "none": the prompt\'s open tag and the output, as generated', () => {
    expect(split({ ...r1, raw: true }, "hmm</think>Answer")).toEqual(["<think>\nhmm</think>Answer", ""]);
    expect(split({ ...qwen3, raw: true }, " Hi")).toEqual([" Hi", ""]);
  });

  it("templates without thinking: verbatim, unless tools were given (then leading whitespace is skipped)", () => {
    const plain: OutputSyntax = { generationPrompt: "", tools: false, raw: false };
    expect(split(plain, "  Hi <think>x</think>")).toEqual(["  Hi <think>x</think>", ""]);
    expect(split({ ...plain, tools: true }, "  Hi")).toEqual(["Hi", ""]);
  });
});

describe("OutputSplitter (streaming)", () => {
  const outputs: Array<[string, OutputSyntax, string]> = [
    ["qwen3 thinking", qwen3, "<think>\nhmm, let me see\n</think>\n\nAnswer.\n"],
    ["qwen3 plain", qwen3, "   Hello there.  \n"],
    ["r1", r1, "I am thinking</think>\n\nAnswer </th> done"],
    ["r1 never closes", r1, "still thinking </thi"],
    ["smollm3", smollm3, "<think>\nhmm\n</think>\n\nAnswer.\n"],
    ["raw", { ...r1, raw: true }, "hmm</think>Answer"],
    ["tools", { generationPrompt: "", tools: true, raw: false }, "  \n Hi"],
  ];
  for (const [name, syntax, output] of outputs) {
    it(`${name}: the deltas, one character at a time, add up to the whole answer`, () => {
      const splitter = new OutputSplitter(syntax);
      let reasoning = "";
      let content = "";
      for (const char of output) {
        const delta = splitter.push(char);
        reasoning += delta.reasoning;
        content += delta.content;
      }
      const rest = splitter.end();
      expect({ reasoning: reasoning + rest.reasoning, content: content + rest.content }).toEqual(
        splitOutput(syntax, output),
      );
    });
  }

  it("holds back a partial closing tag until it is ruled out", () => {
    const splitter = new OutputSplitter(r1);
    expect(splitter.push("abc</thi")).toEqual({ reasoning: "\nabc", content: "" });
    expect(splitter.push("nk>Done")).toEqual({ reasoning: "", content: "Done" });
  });
});
