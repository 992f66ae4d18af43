import type { ServerResponse } from "node:http";

const CHUNK_SIZE = 1 << 20;

/** Body faults to apply while streaming one reply. Offsets are relative to the body being sent. */
export interface BodyPlan {
  /** Send only this many bytes, then close the connection cleanly (FIN). */
  truncateAfter?: number;
  /** Send only this many bytes, then reset the connection (RST). */
  resetAfter?: number;
  /** Flip the byte at this offset (the stored content is not modified). */
  corruptAt?: number;
  /** After this many bytes, send nothing more until the client closes the connection (or `stallMs` passed). */
  stallAfter?: number;
  /** How long a stall lasts before the rest is sent. @default until the client closes the connection */
  stallMs?: number;
}

/** Sends nothing until the connection closes, or `ms` passed (then true: go on). */
function stall(res: ServerResponse, ms: number | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    if (res.destroyed) {
      resolve(false);
      return;
    }
    const timer = ms === undefined ? undefined : setTimeout(() => done(true), ms);
    const onClose = (): void => done(false);
    const done = (goOn: boolean): void => {
      if (timer) clearTimeout(timer);
      res.off("close", onClose);
      resolve(goOn);
    };
    res.once("close", onClose);
  });
}

function waitForDrainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
  });
}

/**
 * Streams `body` (headers must already be set, not sent) with backpressure, applying body faults.
 * `onBytes` is called with the size of every chunk handed to the socket.
 */
export async function writeBody(
  res: ServerResponse,
  body: Buffer,
  plan: BodyPlan,
  onBytes: (bytes: number) => void,
): Promise<void> {
  const cut = Math.min(plan.truncateAfter ?? Number.POSITIVE_INFINITY, plan.resetAfter ?? Number.POSITIVE_INFINITY);
  const limit = Math.max(0, Math.min(body.byteLength, cut));
  const stopsEarly = limit < body.byteLength;
  let closed = res.destroyed;
  const onClose = (): void => {
    closed = true;
  };
  res.once("close", onClose);
  try {
    let offset = 0;
    let stalled = plan.stallAfter === undefined;
    while (offset < limit && !closed) {
      if (!stalled && offset >= (plan.stallAfter ?? 0)) {
        stalled = true;
        // What was written so far reaches the client; then nothing, as from a server that hangs mid-body.
        res.flushHeaders();
        const socket = res.socket;
        if (socket) await new Promise<void>((resolve) => socket.write(Buffer.alloc(0), () => resolve()));
        if (!(await stall(res, plan.stallMs))) return;
        continue;
      }
      const end = Math.min(offset + CHUNK_SIZE, limit, stalled ? limit : Math.max(plan.stallAfter ?? 0, offset + 1));
      let chunk = body.subarray(offset, end);
      if (plan.corruptAt !== undefined && plan.corruptAt >= offset && plan.corruptAt < end) {
        chunk = Buffer.from(chunk);
        const i = plan.corruptAt - offset;
        chunk[i] = (chunk[i] ?? 0) ^ 0xff;
      }
      const ok = res.write(chunk);
      onBytes(chunk.byteLength);
      offset = end;
      if (!ok && !closed) {
        await waitForDrainOrClose(res);
      }
    }
    if (closed) return;
    if (!stopsEarly) {
      res.end();
      return;
    }
    const socket = res.socket;
    if (!socket) return;
    res.flushHeaders();
    // An empty write on the socket completes after everything queued before it.
    await new Promise<void>((resolve) => socket.write(Buffer.alloc(0), () => resolve()));
    if (plan.resetAfter !== undefined && plan.resetAfter <= limit) {
      socket.resetAndDestroy();
    } else {
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
    }
  } finally {
    res.off("close", onClose);
  }
}
