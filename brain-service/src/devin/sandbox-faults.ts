export interface FaultPlan {
  /** How many of the next calls fail. */
  count: number;
  /** 429, or a 5xx. */
  status: number;
  /** Sent as Retry-After with a 429 (the sandbox default when absent). */
  retryAfterSeconds?: number;
  detail?: string;
}

export interface Fault {
  status: number;
  retryAfterSeconds: number | null;
  detail: string;
}

const DETAILS: Record<number, string> = {
  429: 'Too many requests, slow down',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Failures the sandbox answers with instead of behaving: for the next N calls, or per session. */
export class SandboxFaults {
  private plan: (FaultPlan & { left: number }) | null = null;

  constructor(private readonly defaultRetryAfterSeconds: number) {}

  failNext(plan: FaultPlan): void {
    this.plan = plan.count > 0 ? { ...plan, left: plan.count } : null;
  }

  /** The fault for this call, if the plan still has one. */
  take(): Fault | null {
    if (!this.plan) return null;
    this.plan.left -= 1;
    const fault = this.build(this.plan.status, this.plan.retryAfterSeconds, this.plan.detail);
    if (this.plan.left <= 0) this.plan = null;
    return fault;
  }

  /** A fault of the kind a session's `[devin:flaky:N]`/`[devin:throttle:N]` marker asked for. */
  build(status: number, retryAfterSeconds?: number, detail?: string): Fault {
    return {
      status,
      retryAfterSeconds:
        status === 429 ? (retryAfterSeconds ?? this.defaultRetryAfterSeconds) : null,
      detail: detail ?? DETAILS[status] ?? 'Server error',
    };
  }

  pending(): number {
    return this.plan?.left ?? 0;
  }

  clear(): void {
    this.plan = null;
  }
}
