import { describe, expect, it } from "vitest";
import { createMemoryResponseStore } from "./memory-store.ts";
import { ownerOf } from "./owner.ts";
import { createStoredResponses, type StoredResponse } from "./stored-responses.ts";

const record = (id: string, extra: Partial<StoredResponse> = {}): StoredResponse => ({
  v: 1,
  id,
  root: id,
  chain: [],
  response: {
    id,
    object: "response",
    output: [{ id: `msg_out_${id}`, type: "message", role: "assistant", content: [] }],
  },
  input: [{ id: `msg_in_${id}`, type: "message", role: "user", content: [] }],
  items: [`msg_in_${id}`, `msg_out_${id}`],
  ...extra,
});

function setup(maxBytes = 1 << 20) {
  const store = createMemoryResponseStore({ maxBytes: 1 << 20 });
  return { store, responses: createStoredResponses({ store, ttlSec: 60, maxBytes }) };
}

describe("stored responses", () => {
  it("are their owner's: another owner finds neither the response nor its items", async () => {
    const { responses } = setup();
    const alice = await ownerOf({ kind: "key", id: "alice" });
    const bob = await ownerOf({ kind: "key", id: "bob" });
    expect(alice).toMatch(/^[0-9a-f]{32}$/);
    expect(alice).not.toBe(bob);
    // The same id in another kind of principal is another owner.
    expect(await ownerOf({ kind: "ip", id: "alice" })).not.toBe(alice);

    const saved = responses.save(alice, record("resp_1"));
    expect(saved.stored).toBe(true);
    if (saved.stored) await saved.written;
    expect((await responses.get(alice, "resp_1"))?.id).toBe("resp_1");
    expect(await responses.get(bob, "resp_1")).toBeUndefined();
    expect(await responses.items(bob, ["msg_out_resp_1"])).toEqual([undefined]);
    expect(await responses.items(alice, ["msg_out_resp_1", "msg_in_resp_1"])).toEqual([
      { response: "resp_1", root: "resp_1", item: (record("resp_1").response["output"] as unknown[])[0] },
      { response: "resp_1", root: "resp_1", item: record("resp_1").input[0] },
    ]);
    expect(await responses.delete(bob, "resp_1")).toBe(false);
    expect((await responses.get(alice, "resp_1"))?.id).toBe("resp_1");
  });

  it("stores only the items a response lists; delete takes them, leaving those stored again by a later response", async () => {
    const { store, responses } = setup();
    const owner = await ownerOf({ kind: "user", id: "user:abc" });
    await (responses.save(owner, record("resp_1")) as { written: Promise<void> }).written;
    // A later response stores msg_in_resp_1 again (an input item given with the same id).
    const later = record("resp_2", {
      input: [{ id: "msg_in_resp_1", type: "message", role: "user", content: [] }],
      items: ["msg_in_resp_1", "msg_out_resp_2"],
    });
    await (responses.save(owner, later) as { written: Promise<void> }).written;
    expect(store.size).toBe(5); // two records, three items (msg_in_resp_1 once)
    expect(await responses.delete(owner, "resp_1")).toBe(true);
    expect(await responses.get(owner, "resp_1")).toBeUndefined();
    expect(await responses.items(owner, ["msg_out_resp_1", "msg_in_resp_1"])).toEqual([
      undefined,
      expect.objectContaining({ response: "resp_2" }),
    ]);
    expect(await responses.delete(owner, "resp_1")).toBe(false);
  });

  it("does not store a record beyond the size limit, and says how large it was", async () => {
    const { store, responses } = setup(512);
    const owner = await ownerOf({ kind: "key", id: "k" });
    const big = record("resp_big", { input: [{ id: "m", type: "message", role: "user", content: "x".repeat(600) }] });
    const saved = responses.save(owner, big);
    expect(saved).toEqual({ stored: false, bytes: expect.any(Number) });
    expect(!saved.stored && saved.bytes).toBeGreaterThan(512);
    expect(store.size).toBe(0);
  });
});
