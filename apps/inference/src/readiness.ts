/** Where startup stands; `/ready` reports it, and answers 200 only in `ready`. */
export type Phase =
  | { phase: "starting" }
  | { phase: "resolving" }
  | { phase: "downloading"; downloadedBytes: number; totalBytes: number }
  | { phase: "verifying" }
  | { phase: "converting"; doneBytes?: number; totalBytes?: number }
  | { phase: "loading" }
  | { phase: "warming_up" }
  | { phase: "ready" }
  | { phase: "draining" }
  | { phase: "failed"; reason: string };

export class Readiness {
  private state: Phase = { phase: "starting" };
  get current(): Phase {
    return this.state;
  }
  get ready(): boolean {
    return this.state.phase === "ready";
  }
  set(state: Phase): void {
    this.state = state;
  }
}
