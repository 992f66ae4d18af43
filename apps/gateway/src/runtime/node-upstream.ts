import { connect, type Socket } from "node:net";
import { SafeError } from "@slm/config";
import type { Fetch, UpstreamInit, UpstreamResponse } from "../types.ts";

/**
 * The Node transport to inference: a small HTTP/1.1 client over keep-alive sockets, one pool per replica origin.
 *
 * Hand-written because the libraries cost more than the whole rest of the gateway's hot path: measured on this
 * machine (client CPU per small POST to a node:http stub, 64 in flight), undici's Pool.request() 65-75 us and
 * node:http with a keep-alive Agent 58-85 us, against about 20 us for a request written in one `write()` and a
 * response parsed here. It speaks just what the gateway needs towards its own inference service: one request per
 * connection at a time, a string body, responses framed by Content-Length, chunked encoding or connection close;
 * bodies as text (JSON) or as a web stream (SSE, with backpressure: the socket is paused while the client lags).
 * Anything it does not understand fails the request (the forwarder turns that into a 502), it never guesses.
 */

export interface NodeUpstreamOptions {
  /**
   * Connections per replica. Default 512, GATEWAY_MAX_INFLIGHT's default: the gateway never has more requests in
   * flight per replica, so none waits for a connection; a request beyond it (a race) waits at most `maxWaiting`
   * deep, then is shed (UpstreamSaturatedError: a 503 for the client).
   */
  maxConnections?: number;
  /** Requests that may wait for a connection per replica. Default 64. */
  maxWaiting?: number;
  /** A connection not established within this is abandoned (ETIMEDOUT): a blackholed address. Default 5 s. */
  connectTimeoutMs?: number;
  /** Idle connections are closed after this long. Default 4 s: below the 5 s keep-alive timeout of Node's HTTP server
   * (inference's), so that the gateway, not the server, closes an idle connection. */
  idleTimeoutMs?: number;
  /** Largest response head accepted. Default 64 KiB. */
  maxHeadBytes?: number;
}

/** Every connection to the replica is busy and its wait queue is full. */
export class UpstreamSaturatedError extends SafeError {
  override readonly name = "UpstreamSaturatedError";
  readonly code = "upstream_saturated";
}

/** The replica's response is not HTTP/1.1 as this transport speaks it. */
export class UpstreamProtocolError extends SafeError {
  override readonly name = "UpstreamProtocolError";
  readonly code = "upstream_protocol_error";
}

const CRLF2 = Buffer.from("\r\n\r\n");

interface Origin {
  host: string;
  port: number;
  hostHeader: string;
  idle: Socket[];
  open: number;
  waiting: Waiter[];
}

/** A request waiting for a connection; it leaves the queue when its signal aborts. */
interface Waiter {
  take(socket: Socket | Error): void;
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error("aborted");
}

type Framing = { kind: "length"; remaining: number } | { kind: "chunked" } | { kind: "close" } | { kind: "none" };

/** Decodes a chunked body incrementally. */
class ChunkedDecoder {
  #state: "size" | "data" | "data-crlf" | "trailers" | "done" = "size";
  #remaining = 0;
  #line = "";

  get done(): boolean {
    return this.#state === "done";
  }

  /** Feeds bytes; returns the body bytes found (and how many input bytes were consumed, if it finished early). */
  feed(input: Buffer, out: Buffer[]): number {
    let i = 0;
    while (i < input.length && this.#state !== "done") {
      if (this.#state === "data") {
        const take = Math.min(this.#remaining, input.length - i);
        out.push(input.subarray(i, i + take));
        i += take;
        this.#remaining -= take;
        if (this.#remaining === 0) this.#state = "data-crlf";
        continue;
      }
      const newline = input.indexOf(10, i);
      const end = newline === -1 ? input.length : newline + 1;
      this.#line += input.toString("latin1", i, end);
      i = end;
      if (newline === -1) {
        if (this.#line.length > 4096) throw new UpstreamProtocolError("chunk line too long");
        break;
      }
      const line = this.#line.replace(/\r?\n$/, "");
      this.#line = "";
      if (this.#state === "size") {
        const size = Number.parseInt(line.split(";")[0]!.trim(), 16);
        if (!Number.isFinite(size) || size < 0 || !/^[0-9a-f]+$/i.test(line.split(";")[0]!.trim()))
          throw new UpstreamProtocolError("bad chunk size");
        if (size === 0) this.#state = "trailers";
        else {
          this.#remaining = size;
          this.#state = "data";
        }
      } else if (this.#state === "data-crlf") {
        if (line !== "") throw new UpstreamProtocolError("bad chunk end");
        this.#state = "size";
      } else if (line === "") this.#state = "done"; // end of trailers
    }
    return i;
  }
}

class Exchange implements UpstreamResponse {
  status = 0;
  #headers = new Map<string, string>();
  readonly headers = { get: (name: string): string | null => this.#headers.get(name.toLowerCase()) ?? null };

  #socket: Socket;
  #release: (socket: Socket, reusable: boolean) => void;
  #head: Buffer | null = null;
  #framing: Framing = { kind: "none" };
  #chunked: ChunkedDecoder | null = null;
  #keepAlive = true;
  #finished = false;
  #headResolved = false;
  #failed: Error | null = null;
  #received = 0;
  #maxHeadBytes: number;

  #onHead: { resolve: (r: UpstreamResponse) => void; reject: (e: Error) => void };
  /** Body bytes not yet taken by a reader. */
  #pending: Buffer[] = [];
  #text: { resolve: (s: string) => void; reject: (e: Error) => void } | null = null;
  #stream: ReadableStream<Uint8Array> | null = null;
  #controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  #signal: AbortSignal;
  #onAbort = () => this.#fail(this.#signal.reason instanceof Error ? this.#signal.reason : new Error("aborted"));

  constructor(
    socket: Socket,
    signal: AbortSignal,
    maxHeadBytes: number,
    release: (socket: Socket, reusable: boolean) => void,
    onHead: { resolve: (r: UpstreamResponse) => void; reject: (e: Error) => void },
  ) {
    this.#socket = socket;
    this.#signal = signal;
    this.#maxHeadBytes = maxHeadBytes;
    this.#release = release;
    this.#onHead = onHead;
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("error", this.#onError);
    socket.on("close", this.#onEnd);
    // An abort that happened before this exchange existed fires no event: fail now (after construction completes).
    if (signal.aborted) queueMicrotask(this.#onAbort);
    else signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Nothing came back on a reused connection: the server had closed it. Safe to send again on a new one. */
  get staleConnection(): boolean {
    return this.#received === 0;
  }

  #detach(): void {
    this.#socket.off("data", this.#onData);
    this.#socket.off("end", this.#onEnd);
    this.#socket.off("error", this.#onError);
    this.#socket.off("close", this.#onEnd);
    this.#signal.removeEventListener("abort", this.#onAbort);
  }

  #onError = (err: Error) => this.#fail(err);

  #onEnd = () => {
    if (this.#finished || this.#failed) return;
    if (!this.#headResolved)
      return this.#fail(Object.assign(new Error("socket closed before a response"), { code: "ECONNRESET" }));
    if (this.#framing.kind === "close") return this.#finish(false);
    this.#fail(new UpstreamProtocolError("connection closed mid-body"));
  };

  #onData = (data: Buffer) => {
    this.#received += data.length;
    try {
      if (this.status === 0) {
        this.#head = this.#head === null ? data : Buffer.concat([this.#head, data]);
        const end = this.#head.indexOf(CRLF2);
        if (end === -1) {
          if (this.#head.length > this.#maxHeadBytes) throw new UpstreamProtocolError("response head too large");
          return;
        }
        const rest = this.#head.subarray(end + 4);
        const interim = this.#parseHead(this.#head.toString("latin1", 0, end));
        this.#head = null;
        if (interim) {
          this.status = 0;
          this.#headers.clear();
          if (rest.length > 0) this.#onData(rest);
          return;
        }
        this.#headResolved = true;
        this.#onHead.resolve(this);
        if (this.#framing.kind === "none") return this.#finish(this.#keepAlive && rest.length === 0);
        if (rest.length > 0) this.#body(rest);
        return;
      }
      this.#body(data);
    } catch (err) {
      this.#fail(err as Error);
    }
  };

  /** Parses the head; returns true for an interim (1xx) response. */
  #parseHead(text: string): boolean {
    const lines = text.split("\r\n");
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
    if (!status) throw new UpstreamProtocolError("bad status line");
    this.status = Number(status[1]);
    if (lines[0]!.startsWith("HTTP/1.0")) this.#keepAlive = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(":");
      if (colon <= 0) throw new UpstreamProtocolError("bad header line");
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      const previous = this.#headers.get(name);
      this.#headers.set(name, previous === undefined ? value : `${previous}, ${value}`);
    }
    if (this.status >= 100 && this.status < 200) return true;
    const connection = this.#headers.get("connection")?.toLowerCase();
    if (connection === "close") this.#keepAlive = false;
    const encoding = this.#headers.get("transfer-encoding")?.toLowerCase();
    const length = this.#headers.get("content-length");
    if (this.status === 204 || this.status === 304) this.#framing = { kind: "none" };
    else if (encoding !== undefined) {
      if (encoding !== "chunked") throw new UpstreamProtocolError("unsupported transfer-encoding");
      this.#framing = { kind: "chunked" };
      this.#chunked = new ChunkedDecoder();
    } else if (length !== undefined) {
      if (!/^\d+$/.test(length)) throw new UpstreamProtocolError("bad content-length");
      const remaining = Number(length);
      this.#framing = remaining === 0 ? { kind: "none" } : { kind: "length", remaining };
    } else {
      this.#framing = { kind: "close" };
      this.#keepAlive = false;
    }
    return false;
  }

  #body(data: Buffer): void {
    const framing = this.#framing;
    if (framing.kind === "length") {
      if (data.length > framing.remaining) throw new UpstreamProtocolError("more body than content-length");
      framing.remaining -= data.length;
      this.#push(data);
      if (framing.remaining === 0) this.#finish(this.#keepAlive);
    } else if (framing.kind === "chunked") {
      const out: Buffer[] = [];
      const used = this.#chunked!.feed(data, out);
      for (const part of out) this.#push(part);
      if (this.#chunked!.done) this.#finish(this.#keepAlive && used === data.length);
    } else this.#push(data);
  }

  #push(data: Buffer): void {
    if (data.length === 0) return;
    if (this.#controller) {
      this.#controller.enqueue(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      if ((this.#controller.desiredSize ?? 1) <= 0) this.#socket.pause();
    } else this.#pending.push(data);
  }

  #finish(reusable: boolean): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#detach();
    this.#socket.resume();
    this.#release(this.#socket, reusable);
    if (this.#text) this.#text.resolve(Buffer.concat(this.#pending).toString("utf8"));
    if (this.#controller) this.#controller.close();
  }

  #fail(err: Error): void {
    if (this.#finished || this.#failed) return;
    this.#failed = err;
    this.#detach();
    this.#socket.destroy();
    this.#release(this.#socket, false);
    if (!this.#headResolved) this.#onHead.reject(err);
    this.#text?.reject(err);
    this.#controller?.error(err);
  }

  text(): Promise<string> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#finished) return Promise.resolve(Buffer.concat(this.#pending).toString("utf8"));
    return new Promise((resolve, reject) => {
      this.#text = { resolve, reject };
    });
  }

  get body(): ReadableStream<Uint8Array> {
    this.#stream ??= new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          for (const part of this.#pending)
            controller.enqueue(new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
          this.#pending = [];
          if (this.#failed) controller.error(this.#failed);
          else if (this.#finished) controller.close();
          else this.#controller = controller;
        },
        pull: () => {
          this.#socket.resume();
        },
        cancel: () => {
          this.#fail(new Error("response body cancelled"));
        },
      },
      { highWaterMark: 16 },
    );
    return this.#stream;
  }
}

export function createNodeUpstream(options: NodeUpstreamOptions = {}): { fetch: Fetch; close(): void } {
  const maxConnections = options.maxConnections ?? 512;
  const maxWaiting = options.maxWaiting ?? 64;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 4_000;
  const maxHeadBytes = options.maxHeadBytes ?? 64 * 1024;
  const origins = new Map<string, Origin>();

  function originOf(base: string): Origin {
    let origin = origins.get(base);
    if (origin === undefined) {
      const url = new URL(base);
      if (url.protocol !== "http:")
        throw new TypeError("only http:// inference URLs are supported by the Node transport");
      origin = {
        host: url.hostname.replace(/^\[|\]$/g, ""),
        port: Number(url.port || 80),
        hostHeader: url.host,
        idle: [],
        open: 0,
        waiting: [],
      };
      origins.set(base, origin);
    }
    return origin;
  }

  function onIdleClose(origin: Origin, socket: Socket) {
    return () => {
      const i = origin.idle.indexOf(socket);
      if (i >= 0) origin.idle.splice(i, 1);
    };
  }

  function release(origin: Origin, socket: Socket, reusable: boolean): void {
    const waiter = origin.waiting.shift();
    if (!reusable) {
      socket.destroy();
      // The waiter gets a new connection (with the same connect deadline), or the error.
      if (waiter) void open(origin, undefined).then(waiter.take, waiter.take);
      return;
    }
    if (waiter) {
      waiter.take(socket);
      return;
    }
    socket.setTimeout(idleTimeoutMs);
    const onClose = onIdleClose(origin, socket);
    socket.once("close", onClose);
    socket.once("error", onClose);
    (socket as Socket & { onIdleClose?: () => void }).onIdleClose = onClose;
    origin.idle.push(socket);
  }

  /**
   * A new connection, counted in `origin.open` until it closes. Abandoned after `connectTimeoutMs` (a blackholed
   * address would otherwise hold it for the kernel's SYN retries, about two minutes) or when `signal` aborts.
   */
  function open(origin: Origin, signal: AbortSignal | undefined): Promise<Socket> {
    origin.open++;
    return new Promise((resolve, reject) => {
      const socket = connect({ host: origin.host, port: origin.port, noDelay: true });
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        origin.open--;
        socket.destroy();
        reject(err);
      };
      const timer = setTimeout(
        () => fail(Object.assign(new Error(`connect timed out after ${connectTimeoutMs} ms`), { code: "ETIMEDOUT" })),
        connectTimeoutMs,
      );
      const onAbort = () => fail(abortReason(signal!));
      signal?.addEventListener("abort", onAbort, { once: true });
      socket.once("error", fail);
      socket.once("connect", () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        socket.off("error", fail);
        socket.once("close", () => origin.open--);
        socket.on("timeout", () => socket.destroy()); // idle too long (the timeout is only set while idle)
        resolve(socket);
      });
    });
  }

  async function acquire(origin: Origin, signal: AbortSignal): Promise<{ socket: Socket; reused: boolean }> {
    const idle = origin.idle.pop();
    if (idle) {
      const tagged = idle as Socket & { onIdleClose?: () => void };
      idle.setTimeout(0);
      if (tagged.onIdleClose) {
        idle.off("close", tagged.onIdleClose);
        idle.off("error", tagged.onIdleClose);
      }
      return { socket: idle, reused: true };
    }
    if (origin.open < maxConnections) return { socket: await open(origin, signal), reused: false };
    if (origin.waiting.length >= maxWaiting) {
      throw new UpstreamSaturatedError(
        `all ${maxConnections} connections to the replica are busy and ${maxWaiting} requests wait`,
      );
    }
    // Wait for a connection, but never past the request's own end (client gone, deadline).
    const next = await new Promise<Socket | Error>((resolve) => {
      const waiter: Waiter = {
        take: (socket) => {
          signal.removeEventListener("abort", onAbort);
          resolve(socket);
        },
      };
      const onAbort = () => {
        const i = origin.waiting.indexOf(waiter);
        if (i >= 0) origin.waiting.splice(i, 1);
        resolve(abortReason(signal));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      origin.waiting.push(waiter);
    });
    if (next instanceof Error) throw next;
    if (signal.aborted) {
      release(origin, next, true); // handed over just as the request ended: pass it on
      throw abortReason(signal);
    }
    return { socket: next, reused: true };
  }

  function send(
    origin: Origin,
    path: string,
    init: UpstreamInit,
    socket: Socket,
  ): Promise<{ response: UpstreamResponse; exchange: Exchange }> {
    let head = `${init.method} ${path} HTTP/1.1\r\nhost: ${origin.hostHeader}\r\n`;
    for (const name in init.headers) head += `${name}: ${init.headers[name]}\r\n`;
    const body = init.body;
    if (body !== undefined) head += `content-length: ${Buffer.byteLength(body)}\r\n`;
    head += "\r\n";
    return new Promise((resolve, reject) => {
      const exchange: Exchange = new Exchange(
        socket,
        init.signal,
        maxHeadBytes,
        (s, reusable) => release(origin, s, reusable),
        {
          resolve: (response) => resolve({ response, exchange }),
          reject: (err) => reject(Object.assign(err, { exchange })),
        },
      );
      socket.write(body === undefined ? head : head + body);
    });
  }

  const fetch: Fetch = async (url, init) => {
    if (init.signal.aborted) throw abortReason(init.signal);
    const pathStart = url.indexOf("/", url.indexOf("//") + 2);
    const origin = originOf(pathStart === -1 ? url : url.slice(0, pathStart));
    const path = pathStart === -1 ? "/" : url.slice(pathStart);
    for (let attempt = 0; ; attempt++) {
      const { socket, reused } = await acquire(origin, init.signal);
      try {
        return (await send(origin, path, init, socket)).response;
      } catch (err) {
        const exchange = (err as { exchange?: Exchange }).exchange;
        // A kept-alive connection the server had already closed: nothing was processed, send again on a new one.
        if (reused && attempt === 0 && exchange?.staleConnection && !init.signal.aborted) continue;
        throw err;
      }
    }
  };

  return {
    fetch,
    close() {
      for (const origin of origins.values()) for (const socket of origin.idle.splice(0)) socket.destroy();
    },
  };
}
