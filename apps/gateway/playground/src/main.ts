import type { ChatMessage, FunctionTool, ToolCall } from "@slm/config";
import { byId } from "./dom.ts";
import { frameBatcher } from "./frame-batcher.ts";
import { GatewayError } from "./gateway-error.ts";
import { generationStats, type GenerationTiming } from "./generation-stats.ts";
import { sessionKeyStore } from "./key-store.ts";
import { listModels } from "./list-models.ts";
import { isSignInToken, signInTokenFromFragment, tokenExpiry } from "./sign-in-token.ts";
import { streamChat } from "./stream-chat.ts";

/** The playground page: wires the form controls to the gateway's /v1 API on this page's own origin. */

const ui = {
  keyForm: byId("key-form", HTMLFormElement),
  apiKey: byId("api-key", HTMLInputElement),
  keyForget: byId("key-forget", HTMLButtonElement),
  model: byId("model", HTMLSelectElement),
  maxTokens: byId("max-tokens", HTMLInputElement),
  temperature: byId("temperature", HTMLInputElement),
  toolChoice: byId("tool-choice", HTMLSelectElement),
  tools: byId("tools", HTMLTextAreaElement),
  status: byId("status", HTMLParagraphElement),
  transcript: byId("transcript", HTMLElement),
  promptForm: byId("prompt-form", HTMLFormElement),
  prompt: byId("prompt", HTMLTextAreaElement),
  send: byId("send", HTMLButtonElement),
  stop: byId("stop", HTMLButtonElement),
  clear: byId("clear", HTMLButtonElement),
  stats: byId("stats", HTMLElement),
  statPrompt: byId("stat-prompt", HTMLElement),
  statCompletion: byId("stat-completion", HTMLElement),
  statRate: byId("stat-rate", HTMLElement),
  statFirstToken: byId("stat-ttft", HTMLElement),
  statFinish: byId("stat-finish", HTMLElement),
};

const keys = sessionKeyStore();
const history: ChatMessage[] = [];
/** Calls of the last answer that still wait for their result: the next messages are sent as their `tool` results. */
const pendingCalls: ToolCall[] = [];
let generation: AbortController | null = null;
let connected = false;

function setStatus(text: string, kind: "info" | "error" = "info"): void {
  ui.status.textContent = text;
  ui.status.dataset.kind = kind;
}

function describe(error: unknown): string {
  if (error instanceof GatewayError) {
    const retry = error.retryAfter !== null ? ` Retry in ${error.retryAfter} s.` : "";
    return `${error.message} (${error.status} ${error.code})${retry}`;
  }
  return "The gateway could not be reached.";
}

function updateControls(): void {
  const busy = generation !== null;
  ui.send.disabled = busy || !connected || ui.model.value === "";
  ui.stop.disabled = !busy;
  ui.model.disabled = busy || !connected;
}

function resetModels(placeholder: string): void {
  connected = false;
  ui.model.replaceChildren(new Option(placeholder, ""));
  updateControls();
}

async function connect(): Promise<void> {
  const apiKey = keys.get();
  if (apiKey === null) return;
  setStatus("Listing models…");
  try {
    const models = await listModels({ apiKey });
    const previous = ui.model.value;
    ui.model.replaceChildren(...models.map((id) => new Option(id, id)));
    if (models.includes(previous)) ui.model.value = previous;
    connected = models.length > 0;
    const served = connected
      ? `Connected. ${models.length} model${models.length === 1 ? "" : "s"} served.`
      : "No model is served.";
    setStatus(isSignInToken(apiKey) ? `${signedIn(apiKey)} ${served}` : served);
  } catch (error) {
    resetModels("No models: see the message above");
    setStatus(`Could not list the models: ${describe(error)}`, "error");
  }
  updateControls();
}

/** What the status says of a sign-in token: that it is one, and until when it is valid. */
function signedIn(token: string): string {
  const expiry = tokenExpiry(token);
  return expiry === null
    ? "Signed in with a token."
    : `Signed in with a token valid until ${expiry.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}.`;
}

/** Keeps the conversation scrolled to its end, unless the reader scrolled up to read something earlier. */
function appendToTranscript(append: () => void, always = false): void {
  const box = ui.transcript;
  const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  append();
  if (always || atEnd) box.scrollTop = box.scrollHeight;
}

function appendMessage(role: "user" | "assistant" | "tool", text: string): HTMLElement {
  const element = document.createElement("div");
  element.className = `message ${role}`;
  element.textContent = text;
  // A new question always brings the conversation to its end.
  appendToTranscript(() => ui.transcript.append(element), role !== "assistant");
  return element;
}

/** The tools typed into the Tools box: undefined when empty; throws with a readable message when it is not a list. */
function readTools(): FunctionTool[] | undefined {
  const text = ui.tools.value.trim();
  if (text === "") return undefined;
  let tools: unknown;
  try {
    tools = JSON.parse(text);
  } catch {
    throw new Error("The Tools box is not valid JSON.");
  }
  if (!Array.isArray(tools)) throw new Error("The Tools box must hold a JSON array of tools.");
  return tools as FunctionTool[];
}

/** Shows the calls an answer makes, as they stream: one line per call, `name(arguments)`. */
function toolCallView(output: HTMLElement) {
  const calls: ToolCall[] = [];
  const lines: HTMLElement[] = [];
  return {
    calls,
    add(index: number, id: string | undefined, name: string | undefined, args: string): void {
      let call = calls[index];
      if (!call) {
        call = { id: id ?? "", type: "function", function: { name: name ?? "", arguments: "" } };
        calls[index] = call;
        const line = document.createElement("code");
        line.className = "tool-call";
        lines[index] = line;
        appendToTranscript(() => output.append(line));
      }
      call.function.arguments += args;
      lines[index]!.textContent = `${call.function.name}(${call.function.arguments})`;
    },
  };
}

function updatePrompt(): void {
  const next = pendingCalls[0];
  ui.prompt.placeholder = next
    ? `The result of ${next.function.name} (sent as its tool message). Ctrl+Enter sends.`
    : "Type a message. Ctrl+Enter sends.";
}

function showStats(timing: GenerationTiming, promptTokens: number | null, finish: string): void {
  const stats = generationStats(timing);
  const approx = stats.estimated ? "≈ " : "";
  ui.statPrompt.textContent = promptTokens === null ? "–" : String(promptTokens);
  ui.statCompletion.textContent = `${approx}${stats.completionTokens}`;
  ui.statRate.textContent = stats.tokensPerSecond === null ? "–" : `${approx}${stats.tokensPerSecond.toFixed(1)}`;
  ui.statFirstToken.textContent = stats.firstTokenMs === null ? "–" : `${Math.round(stats.firstTokenMs)} ms`;
  ui.statFinish.textContent = finish;
}

function clearStats(): void {
  for (const cell of [ui.statPrompt, ui.statCompletion, ui.statRate, ui.statFirstToken, ui.statFinish])
    cell.textContent = "–";
}

async function send(): Promise<void> {
  const apiKey = keys.get();
  const content = ui.prompt.value.trim();
  if (generation !== null || apiKey === null || content === "" || ui.model.value === "") return;
  let tools: FunctionTool[] | undefined;
  try {
    tools = readTools();
  } catch (error) {
    setStatus((error as Error).message, "error");
    return;
  }

  const answered = pendingCalls.shift();
  if (answered) {
    history.push({ role: "tool", tool_call_id: answered.id, content });
    appendMessage("tool", `${answered.function.name}: ${content}`);
  } else {
    history.push({ role: "user", content });
    appendMessage("user", content);
  }
  ui.prompt.value = "";
  updatePrompt();
  // The model answers once every call of its last turn has its result.
  if (pendingCalls.length > 0) return;
  const output = appendMessage("assistant", "");
  const text = output.appendChild(document.createTextNode(""));
  const toolCalls = toolCallView(output);
  /** The assistant turn as the history keeps it: its text, and its calls when it made any. */
  const assistantTurn = (): ChatMessage =>
    toolCalls.calls.length > 0
      ? { role: "assistant", content: text.data === "" ? null : text.data, tool_calls: toolCalls.calls }
      : { role: "assistant", content: text.data };
  output.dataset.state = "streaming";
  ui.stats.dataset.state = "streaming";
  clearStats();

  const controller = new AbortController();
  generation = controller;
  updateControls();
  const timing: GenerationTiming = {
    sentAt: performance.now(),
    firstTextAt: null,
    lastTextAt: null,
    textChunks: 0,
    completionTokens: null,
  };
  const render = frameBatcher((more) => {
    appendToTranscript(() => text.appendData(more));
    output.dataset.chunks = String(timing.textChunks);
  });
  let promptTokens: number | null = null;
  let finish = "–";
  const maxTokens = ui.maxTokens.valueAsNumber;
  const temperature = ui.temperature.valueAsNumber;
  try {
    setStatus("Generating…");
    for await (const event of streamChat({
      apiKey,
      request: {
        model: ui.model.value,
        messages: [...history],
        ...(Number.isFinite(maxTokens) ? { max_tokens: maxTokens } : {}),
        ...(Number.isFinite(temperature) ? { temperature } : {}),
        ...(tools ? { tools, tool_choice: ui.toolChoice.value as "auto" | "required" | "none" } : {}),
      },
      signal: controller.signal,
    })) {
      if (event.type === "text") {
        const now = performance.now();
        timing.firstTextAt ??= now;
        timing.lastTextAt = now;
        timing.textChunks += 1;
        render.push(event.text);
      } else if (event.type === "tool_call") {
        const now = performance.now();
        timing.firstTextAt ??= now;
        timing.lastTextAt = now;
        render.flushNow();
        toolCalls.add(event.index, event.id, event.name, event.arguments);
      } else if (event.type === "finish") {
        finish = event.reason;
      } else {
        timing.completionTokens = event.usage.completion_tokens;
        promptTokens = event.usage.prompt_tokens;
      }
    }
    render.flushNow();
    history.push(assistantTurn());
    pendingCalls.push(...toolCalls.calls);
    updatePrompt();
    output.dataset.state = "done";
    ui.stats.dataset.state = "done";
    showStats(timing, promptTokens, finish);
    setStatus("Done.");
  } catch (error) {
    render.flushNow();
    if (controller.signal.aborted) {
      // What was shown stays part of the conversation (unless Clear removed it).
      if (output.isConnected) history.push(assistantTurn());
      output.dataset.state = "stopped";
      ui.stats.dataset.state = "stopped";
      showStats(timing, promptTokens, "stopped");
      setStatus("Stopped. The connection was closed, so the gateway cancelled the generation.");
    } else {
      if (output.isConnected) history.pop();
      output.dataset.state = "error";
      ui.stats.dataset.state = "error";
      const line = document.createElement("span");
      line.className = "error";
      line.textContent = describe(error);
      appendToTranscript(() => output.append(line));
      setStatus(`The request failed: ${describe(error)}`, "error");
    }
  } finally {
    generation = null;
    updateControls();
  }
}

ui.keyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const apiKey = ui.apiKey.value.trim();
  if (apiKey === "") return;
  keys.set(apiKey);
  void connect();
});

ui.keyForget.addEventListener("click", () => {
  keys.clear();
  ui.apiKey.value = "";
  resetModels("Paste a key or a token to list the models");
  setStatus("Key forgotten.");
});

ui.promptForm.addEventListener("submit", (event) => {
  event.preventDefault();
  void send();
});

ui.prompt.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    ui.promptForm.requestSubmit();
  }
});

ui.stop.addEventListener("click", () => generation?.abort());

ui.clear.addEventListener("click", () => {
  generation?.abort();
  history.length = 0;
  pendingCalls.length = 0;
  updatePrompt();
  ui.transcript.replaceChildren();
  ui.stats.dataset.state = "idle";
  clearStats();
});

ui.model.addEventListener("change", updateControls);

// A sign-in token handed over in the fragment (`/playground/#token=<jwt>`, as an app that minted one for its user links
// here) is kept in this tab like a pasted key, and taken out of the address at once (history, bookmarks, screens).
const handed = signInTokenFromFragment(location.hash);
if (handed !== null) keys.set(handed);
if (location.hash !== "") window.history.replaceState(null, "", location.pathname + location.search);

const stored = keys.get();
if (stored !== null) {
  ui.apiKey.value = stored;
  void connect();
}
updateControls();
