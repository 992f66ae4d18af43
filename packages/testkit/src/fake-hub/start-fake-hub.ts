import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { CdnStore } from "./cdn-store.ts";
import { handleCdnRequest } from "./cdn-handler.ts";
import { sendServerError } from "./errors.ts";
import { FaultController } from "./faults.ts";
import { handleHubRequest } from "./hub-router.ts";
import { lowerCaseHeaders } from "./http-utils.ts";
import { FakeRepo } from "./repo-store.ts";
import type { HubState } from "./state.ts";
import { TokenStore } from "./tokens.ts";
import type {
  CommitOptions,
  FakeHub,
  FakeRepoInfo,
  FileContent,
  GatedMode,
  RepoSpec,
  RequestLogEntry,
  StartFakeHubOptions,
  TokenOptions,
} from "./types.ts";

type Origin = "hub" | "cdn";
type Handler = (state: HubState, req: IncomingMessage, res: ServerResponse) => Promise<void>;

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function stopListening(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function originUrl(host: string, port: number): string {
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

class FakeHubServer implements FakeHub {
  readonly requests: RequestLogEntry[] = [];
  readonly faults = new FaultController();
  private readonly repos = new Map<string, FakeRepo>();
  private readonly tokens = new TokenStore();
  private readonly counters = { hubBytes: 0, cdnBytes: 0 };
  private readonly state: HubState;
  private readonly hubServer: Server;
  private readonly cdnServer: Server;
  private readonly host: string;
  private hubPort: number;
  private cdnPortNumber: number;
  private isUp = false;
  private closed = false;

  constructor(options: StartFakeHubOptions) {
    this.host = options.host ?? "127.0.0.1";
    this.hubPort = options.port ?? 0;
    this.cdnPortNumber = options.cdnPort ?? 0;
    this.state = {
      repos: this.repos,
      tokens: this.tokens,
      faults: this.faults,
      cdn: new CdnStore(),
      requests: this.requests,
      counters: this.counters,
      options: { honourExpand: options.honourExpand ?? false, cdnCacheHeader: options.cdnCacheHeader ?? true },
      hubUrl: () => this.url,
      cdnUrl: () => this.cdnUrl,
    };
    this.hubServer = this.createOriginServer("hub", handleHubRequest);
    this.cdnServer = this.createOriginServer("cdn", handleCdnRequest);
  }

  get url(): string {
    return originUrl(this.host, this.hubPort);
  }

  get cdnUrl(): string {
    return originUrl(this.host, this.cdnPortNumber);
  }

  get port(): number {
    return this.hubPort;
  }

  get cdnPort(): number {
    return this.cdnPortNumber;
  }

  get cdnBytesSent(): number {
    return this.counters.cdnBytes;
  }

  get hubBytesSent(): number {
    return this.counters.hubBytes;
  }

  addRepo(spec: RepoSpec): string {
    if (this.repos.has(spec.id)) {
      throw new Error(`fake hub: repo ${spec.id} already exists`);
    }
    const repo = new FakeRepo(spec);
    this.repos.set(repo.id, repo);
    return repo.mainSha;
  }

  updateRepo(repoId: string, changes: { private?: boolean; gated?: GatedMode }): void {
    const repo = this.requireRepo(repoId);
    if (changes.private !== undefined) repo.private = changes.private;
    if (changes.gated !== undefined) repo.gated = changes.gated;
  }

  removeRepo(repoId: string): void {
    this.repos.delete(repoId);
  }

  repo(repoId: string): FakeRepoInfo {
    return this.requireRepo(repoId);
  }

  commit(repoId: string, files: Record<string, FileContent>, options?: CommitOptions): string {
    return this.requireRepo(repoId).commit(files, options).id;
  }

  tag(repoId: string, tag: string, commitSha: string): void {
    this.requireRepo(repoId).setTag(tag, commitSha);
  }

  branch(repoId: string, name: string, commitSha: string): void {
    this.requireRepo(repoId).setBranch(name, commitSha);
  }

  addToken(token: string, options?: TokenOptions): void {
    this.tokens.add(token, options);
  }

  removeToken(token: string): void {
    this.tokens.remove(token);
  }

  resetLog(): void {
    this.requests.length = 0;
    this.counters.cdnBytes = 0;
    this.counters.hubBytes = 0;
  }

  async listen(): Promise<void> {
    this.hubPort = await listen(this.hubServer, this.hubPort, this.host);
    try {
      this.cdnPortNumber = await listen(this.cdnServer, this.cdnPortNumber, this.host);
    } catch (err) {
      await stopListening(this.hubServer);
      throw err;
    }
    this.isUp = true;
  }

  async down(): Promise<void> {
    if (!this.isUp) return;
    this.isUp = false;
    await Promise.all([stopListening(this.hubServer), stopListening(this.cdnServer)]);
    // Let clients in this process see their kept-alive sockets close, so their next request
    // opens a new connection and is refused instead of failing on a stale socket.
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  async up(): Promise<void> {
    if (this.closed) throw new Error("fake hub: closed");
    if (this.isUp) return;
    await this.listen();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.down();
  }

  private requireRepo(repoId: string): FakeRepo {
    const repo = this.repos.get(repoId);
    if (!repo) throw new Error(`fake hub: no repo ${repoId}`);
    return repo;
  }

  private createOriginServer(origin: Origin, handler: Handler): Server {
    const server = createServer((req, res) => {
      void this.onRequest(origin, handler, req, res);
    });
    server.on("connection", (socket: Socket) => {
      if (this.faults.take("down")) socket.resetAndDestroy();
    });
    // A reset from the client side must not crash the process.
    server.on("clientError", (_err, socket) => socket.destroy());
    return server;
  }

  private async onRequest(origin: Origin, handler: Handler, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = req.url ?? "/";
    const q = raw.indexOf("?");
    const entry: RequestLogEntry = {
      origin,
      method: req.method ?? "GET",
      path: q === -1 ? raw : raw.slice(0, q),
      query: q === -1 ? "" : raw.slice(q),
      headers: lowerCaseHeaders(req),
    };
    this.requests.push(entry);
    const recordStatus = (): void => {
      if (res.headersSent && entry.status === undefined) entry.status = res.statusCode;
    };
    res.once("finish", recordStatus);
    res.once("close", recordStatus);
    if (this.faults.take("down")) {
      req.socket.resetAndDestroy();
      return;
    }
    try {
      await handler(this.state, req, res);
    } catch (err) {
      if (!res.headersSent) {
        sendServerError(res, 500);
      } else {
        res.destroy(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }
}

/**
 * Starts a fake Hugging Face Hub: two node:http servers on loopback, the Hub origin and a CDN origin
 * (another port) that serves LFS files. Ports default to 0 (random).
 */
export async function startFakeHub(options: StartFakeHubOptions = {}): Promise<FakeHub> {
  const hub = new FakeHubServer(options);
  await hub.listen();
  return hub;
}
