/**
 * Measured service time, for an honest Retry-After: how long a slot is held per request (an exponentially weighted
 * average, so it follows the current mix of prompt and answer lengths), and from it how long the queue ahead of a
 * refused request would take to drain.
 */
export class ThroughputMeter {
  private averageSeconds: number | undefined;

  constructor(private readonly options: { weight?: number; initialSeconds?: number } = {}) {}

  /** Records one request's time on a slot. */
  record(seconds: number): void {
    const weight = this.options.weight ?? 0.2;
    this.averageSeconds =
      this.averageSeconds === undefined ? seconds : this.averageSeconds + weight * (seconds - this.averageSeconds);
  }

  get secondsPerRequest(): number {
    return this.averageSeconds ?? this.options.initialSeconds ?? 1;
  }

  /** Seconds until the `queued` requests ahead and this one would have been served by `slots` slots; 1 to 600. */
  retryAfterSeconds(queued: number, slots: number): number {
    const seconds = ((queued + 1) * this.secondsPerRequest) / Math.max(1, slots);
    return Math.min(600, Math.max(1, Math.ceil(seconds)));
  }
}
