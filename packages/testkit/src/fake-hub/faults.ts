import type { ApiRoute, FaultControls, FaultHandle, FaultKind, FaultSpec, FaultWhere } from "./types.ts";

/** What a request looks like to the fault matcher. */
export interface FaultContext {
  where: FaultWhere;
  /** The API route (API requests only). */
  route?: ApiRoute;
  /** File path in the repo (resolve and CDN requests only). */
  path?: string;
  repo?: string;
  /** A GET whose reply carries a body (not HEAD, not a redirect, not an error). */
  hasBody?: boolean;
  /** The request is a `Range: bytes=0-0` probe. */
  isProbe?: boolean;
}

const BODY_KINDS: ReadonlySet<FaultKind> = new Set([
  "truncateBody",
  "corruptBody",
  "resetMidBody",
  "slowBody",
  "stallBody",
]);

const DEFAULT_WHERE: Record<Exclude<FaultKind, "down">, readonly FaultWhere[]> = {
  truncateBody: ["resolve", "cdn", "bridge"],
  corruptBody: ["resolve", "cdn", "bridge"],
  resetMidBody: ["resolve", "cdn", "bridge"],
  slowBody: ["resolve", "cdn", "bridge"],
  stallBody: ["resolve", "cdn", "bridge"],
  missingEtag: ["resolve", "cdn", "bridge"],
  rateLimit: ["api", "resolve"],
  serverError: ["api", "resolve", "cdn", "bridge"],
  cdnError: ["cdn", "bridge"],
};

class ActiveFault implements FaultHandle {
  fired = 0;
  remaining: number;

  constructor(
    readonly spec: FaultSpec,
    private readonly owner: FaultController,
  ) {
    const times = spec.times ?? (spec.kind === "down" ? Number.POSITIVE_INFINITY : 1);
    if (!(times > 0)) {
      throw new RangeError(`fake hub: fault times must be > 0, got ${times}`);
    }
    this.remaining = times;
  }

  clear(): void {
    this.owner.remove(this);
  }

  matches(ctx: FaultContext | undefined): boolean {
    const spec = this.spec;
    if (spec.kind === "down") {
      return true;
    }
    if (!ctx) {
      return false;
    }
    const where = spec.where === undefined ? DEFAULT_WHERE[spec.kind] : [spec.where].flat();
    if (!where.includes(ctx.where)) return false;
    if (spec.path !== undefined && spec.path !== ctx.path) return false;
    if (spec.repo !== undefined && spec.repo !== ctx.repo) return false;
    if (spec.route !== undefined && spec.route !== ctx.route) return false;
    if (BODY_KINDS.has(spec.kind)) {
      if (!ctx.hasBody) return false;
      const includeProbes = "includeProbes" in spec && spec.includeProbes === true;
      if (ctx.isProbe && !includeProbes) return false;
    }
    return true;
  }
}

/** Implements `hub.faults`. */
export class FaultController implements FaultControls {
  private list: ActiveFault[] = [];
  private readonly counts = new Map<FaultKind, number>();

  set(fault: FaultSpec): FaultHandle {
    const active = new ActiveFault(fault, this);
    this.list.push(active);
    return active;
  }

  clear(kind?: FaultKind): void {
    this.list = kind ? this.list.filter((f) => f.spec.kind !== kind) : [];
  }

  remove(fault: ActiveFault): void {
    this.list = this.list.filter((f) => f !== fault);
  }

  get active(): readonly FaultHandle[] {
    return [...this.list];
  }

  fired(kind?: FaultKind): number {
    if (kind) return this.counts.get(kind) ?? 0;
    let total = 0;
    for (const n of this.counts.values()) total += n;
    return total;
  }

  /** Is a fault of this kind pending for this request? (does not consume it) */
  peek(kind: FaultKind, ctx?: FaultContext): boolean {
    return this.list.some((f) => f.spec.kind === kind && f.matches(ctx));
  }

  /** Consumes one firing of the oldest matching fault of this kind. */
  take<K extends FaultKind>(kind: K, ctx?: FaultContext): Extract<FaultSpec, { kind: K }> | undefined {
    const fault = this.list.find((f) => f.spec.kind === kind && f.matches(ctx));
    if (!fault) return undefined;
    fault.fired += 1;
    fault.remaining -= 1;
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    if (fault.remaining <= 0) {
      this.remove(fault);
    }
    return fault.spec as Extract<FaultSpec, { kind: K }>;
  }
}
