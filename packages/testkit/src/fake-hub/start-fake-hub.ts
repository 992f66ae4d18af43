import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { CdnStore } from "./cdn-store.ts";
import { handleBridgeRequest, handleCdnRequest } from "./cdn-handler.ts";
import { sendServerError } from "./errors.ts";
import { FaultController } from "./faults.ts";
import { handleHubRequest } from "./hub-router.ts";
import { lowerCaseHeaders } from "./http-utils.ts";
import { FakeRepo } from "./repo-store.ts";
import { API_ROUTES, routeLabel } from "./route-label.ts";
import type { HubState } from "./state.ts";
import { TokenStore } from "./tokens.ts";
import type {
  CommitOptions,
  FakeHub,
  FakeHubSettings,
  FakeOrigin,
  FakeRepoInfo,
  FileContent,
  GatedMode,
  RepoSpec,
  RequestLogEntry,
  RouteLabel,
  StartFakeHubOptions,
  TokenOptions,
} from "./types.ts";

type Origin = FakeOrigin;
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

/** One listening origin: its server, its port (0 until first listened on) and whether it listens now. */
interface OriginServer {
  server: Server;
  port: number;
  up: boolean;
}

const ORIGINS: readonly Origin[] = ["hub", "cdn", "bridge"];

/** The real Xet bridge answers 400 to an unranged GET of a file over 50 GB. */
const DEFAULT_UNRANGED_LIMIT = 50 * 1024 ** 3;

class FakeHubServer implements FakeHub {
  readonly requests: RequestLogEntry[] = [];
  readonly faults = new FaultController();
  readonly settings: FakeHubSettings;
  private readonly repos = new Map<string, FakeRepo>();
  private readonly renamed = new Map<string, string>();
  private readonly tokens = new TokenStore();
  private readonly counters = { hubBytes: 0, cdnBytes: 0, bridgeBytes: 0 };
  private readonly state: HubState;
  private readonly origins: Record<Origin, OriginServer>;
  private readonly host: string;
  private closed = false;

  constructor(options: StartFakeHubOptions) {
    this.host = options.host ?? "127.0.0.1";
    this.settings = {
      cdnEtag: "content",
      unrangedLimitBytes: DEFAULT_UNRANGED_LIMIT,
      gzipSmallFiles: false,
      ...options.settings,
    };
    this.state = {
      repos: this.repos,
      renamed: this.renamed,
      tokens: this.tokens,
      faults: this.faults,
      cdn: new CdnStore("cdn"),
      bridge: new CdnStore("bridge"),
      requests: this.requests,
      counters: this.counters,
      options: { honourExpand: options.honourExpand ?? false, cdnCacheHeader: options.cdnCacheHeader ?? true },
      settings: this.settings,
      hubUrl: () => this.url,
      cdnUrl: () => this.cdnUrl,
      bridgeUrl: () => this.bridgeUrl,
    };
    const origin = (name: Origin, handler: Handler, port: number | undefined): OriginServer => ({
      server: this.createOriginServer(name, handler),
      port: port ?? 0,
      up: false,
    });
    this.origins = {
      hub: origin("hub", handleHubRequest, options.port),
      cdn: origin("cdn", handleCdnRequest, options.cdnPort),
      bridge: origin("bridge", handleBridgeRequest, options.bridgePort),
    };
  }

  get url(): string {
    return originUrl(this.host, this.origins.hub.port);
  }

  get cdnUrl(): string {
    return originUrl(this.host, this.origins.cdn.port);
  }

  get bridgeUrl(): string {
    return originUrl(this.host, this.origins.bridge.port);
  }

  get port(): number {
    return this.origins.hub.port;
  }

  get cdnPort(): number {
    return this.origins.cdn.port;
  }

  get bridgePort(): number {
    return this.origins.bridge.port;
  }

  get cdnBytesSent(): number {
    return this.counters.cdnBytes;
  }

  get bridgeBytesSent(): number {
    return this.counters.bridgeBytes;
  }

  get hubBytesSent(): number {
    return this.counters.hubBytes;
  }

  requestCounts(): Partial<Record<RouteLabel, number>> {
    const counts: Partial<Record<RouteLabel, number>> = {};
    for (const entry of this.requests) counts[entry.route] = (counts[entry.route] ?? 0) + 1;
    return counts;
  }

  apiRequestCount(): number {
    return this.requests.filter((entry) => API_ROUTES.has(entry.route)).length;
  }

  addRepo(spec: RepoSpec): string {
    if (this.repos.has(spec.id)) {
      throw new Error(`fake hub: repo ${spec.id} already exists`);
    }
    const repo = new FakeRepo(spec);
    this.repos.set(repo.id, repo);
    return repo.mainSha;
  }

  updateRepo(
    repoId: string,
    changes: { private?: boolean; gated?: GatedMode; xet?: boolean; disabled?: boolean },
  ): void {
    const repo = this.requireRepo(repoId);
    if (changes.private !== undefined) repo.private = changes.private;
    if (changes.gated !== undefined) repo.gated = changes.gated;
    if (changes.xet !== undefined) repo.xet = changes.xet;
    if (changes.disabled !== undefined) repo.disabled = changes.disabled;
  }

  renameRepo(from: string, to: string): void {
    const repo = this.requireRepo(from);
    if (this.repos.has(to)) throw new Error(`fake hub: repo ${to} already exists`);
    repo.rename(to);
    this.repos.delete(from);
    this.repos.set(to, repo);
    this.renamed.delete(to);
    this.renamed.set(from, to);
    // A repo renamed twice: its first name leads to the latest one.
    for (const [old, target] of this.renamed) if (target === from) this.renamed.set(old, to);
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
    this.counters.bridgeBytes = 0;
  }

  async listen(only?: Origin): Promise<void> {
    const started: OriginServer[] = [];
    try {
      for (const name of only ? [only] : ORIGINS) {
        const origin = this.origins[name];
        if (origin.up) continue;
        origin.port = await listen(origin.server, origin.port, this.host);
        origin.up = true;
        started.push(origin);
      }
    } catch (err) {
      for (const origin of started) {
        origin.up = false;
        await stopListening(origin.server);
      }
      throw err;
    }
  }

  async down(only?: Origin): Promise<void> {
    const stopping = (only ? [only] : ORIGINS).map((name) => this.origins[name]).filter((origin) => origin.up);
    if (stopping.length === 0) return;
    for (const origin of stopping) origin.up = false;
    await Promise.all(stopping.map((origin) => stopListening(origin.server)));
    // Let clients in this process see their kept-alive sockets close, so their next request
    // opens a new connection and is refused instead of failing on a stale socket.
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  async up(only?: Origin): Promise<void> {
    if (this.closed) throw new Error("fake hub: closed");
    await this.listen(only);
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
      route: routeLabel(origin, req.method ?? "GET", q === -1 ? raw : raw.slice(0, q)),
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
 * Starts a fake Hugging Face Hub: three node:http servers on loopback, the Hub origin, a CDN origin (another port)
 * that serves LFS files, and a Xet bridge origin (a third port) that serves the files of Xet-stored repos.
 * Ports default to 0 (random).
 */
export async function startFakeHub(options: StartFakeHubOptions = {}): Promise<FakeHub> {
  const hub = new FakeHubServer(options);
  await hub.listen();
  return hub;
}
