import { describe, expect, it } from "vitest";
import { scrub } from "./scrub.ts";

describe("scrub", () => {
  it.each([
    ["fetch https://huggingface.co/api/models/x?token=1 failed", "fetch [url] failed"],
    ["GET http://10.0.0.3:8081/v1/x", "GET [url]"],
    ["token hf_AbCdEf0123456789 rejected", "token [token] rejected"],
    ["sent Authorization: Bearer abc.def-ghi", "sent Authorization: Bearer [token]"],
    ["key sk-slm-abcdefghijklmnop", "key [token]"],
    ["connect ECONNREFUSED 127.0.0.1:8081", "connect ECONNREFUSED [address]"],
    ["from 192.168.1.20 and 172.16.0.1:443", "from [address] and [address]"],
    ["listen [::1]:8081 and ::1 and fe80::1ff:fe23:4567:890a", "listen [address] and [address] and [address]"],
    ["at localhost:3000 or inference.svc.cluster.local", "at [host] or [host]"],
    ["resolve inference:8081 failed", "resolve [host] failed"],
    ["open /home/app/.cache/huggingface/hub/blob failed", "open [path] failed"],
    ["context size 2048 exceeded: 3000 tokens", "context size 2048 exceeded: 3000 tokens"],
    ["at 12:30:45 the model was busy", "at 12:30:45 the model was busy"],
    ["Invalid request: messages.0.role: expected string", "Invalid request: messages.0.role: expected string"],
  ])("%s", (input, expected) => {
    expect(scrub(input)).toBe(expected);
  });
});
