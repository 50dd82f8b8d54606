/**
 * One unary gRPC call with the API token, a deadline, and retries with exponential backoff on
 * UNAVAILABLE and DEADLINE_EXCEEDED only. Every other status fails at once.
 */
import * as grpc from '@grpc/grpc-js';

export interface CallPolicy {
  /** Per-attempt deadline in ms. */
  deadlineMs: number;
  /** Retries after the first attempt. */
  retries: number;
  backoffMs: number;
  maxBackoffMs: number;
}

export type UnaryMethod<Req, Res> = (
  req: Req,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, res?: Res) => void,
) => grpc.ClientUnaryCall;

export class ChirpStackError extends Error {
  override readonly name = 'ChirpStackError';
  constructor(
    readonly method: string,
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(`chirpstack: ${method}: ${grpc.status[code] ?? code}: ${details}`);
  }
}

export function isRetryable(err: unknown): boolean {
  return err instanceof ChirpStackError && (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED);
}

export function once<Req, Res>(method: string, fn: UnaryMethod<Req, Res>, req: Req, metadata: grpc.Metadata, deadlineMs: number): Promise<Res> {
  return new Promise((resolve, reject) => {
    // grpc-js records the caller's stack with every call (an Error made up front, read only if the call fails);
    // our errors name the method and status instead. Capturing no frames there takes a good share of the
    // client's CPU per call off (the Error is created synchronously inside `fn`).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      fn(req, metadata, { deadline: Date.now() + deadlineMs }, (err, res) => {
        if (err) reject(new ChirpStackError(method, err.code ?? grpc.status.UNKNOWN, err.details ?? err.message));
        else resolve(res as Res);
      });
    } finally {
      Error.stackTraceLimit = limit;
    }
  });
}

/** Where retries are reported: a pino-style logger is enough. */
export interface RetryLogger {
  warn(obj: object, msg: string): void;
}

/**
 * The retry hook that writes one structured line per retry: the RPC, the attempt about to be made (2 = first
 * retry), the gRPC status name and the delay before it.
 */
export function logRetries(log: RetryLogger): (err: ChirpStackError, retryNo: number, delayMs: number) => void {
  return (err, retryNo, delayMs) =>
    log.warn({ rpc: err.method, attempt: retryNo + 1, code: grpc.status[err.code] ?? err.code, delayMs, details: err.details }, 'chirpstack call retry');
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs `attempt` until it succeeds, fails with a non-retryable error, or retries run out. `beforeRetry`
 * runs before each repeat: it may return a result to stop (e.g. the write is found to have landed).
 */
export async function withRetry<T>(
  policy: CallPolicy,
  attempt: () => Promise<T>,
  beforeRetry?: () => Promise<T | undefined>,
  onRetry?: (err: ChirpStackError, retryNo: number, delayMs: number) => void,
): Promise<T> {
  let delay = policy.backoffMs;
  let used = 0;
  const backOff = async (err: unknown): Promise<void> => {
    if (!isRetryable(err) || used >= policy.retries) throw err;
    used++;
    onRetry?.(err as ChirpStackError, used, delay);
    await sleep(delay);
    delay = Math.min(delay * 2, policy.maxBackoffMs);
  };
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      await backOff(err);
    }
    // The write may have landed before the failure: the check must succeed before it is repeated.
    while (beforeRetry) {
      try {
        const found = await beforeRetry();
        if (found !== undefined) return found;
        break;
      } catch (err) {
        await backOff(err);
      }
    }
  }
}
