/**
 * The lorafuota.v1.CampaignService gRPC server: submit, inspect, cancel and watch campaigns stored in Redis.
 */
import * as grpc from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { CampaignStore } from '../store/campaign-store.js';
import { campaignQueue, connectionFromUrl, redisUrl as defaultRedisUrl } from '../store/queue.js';
import { RedisHealth, type HealthLogger } from '../store/redis-health.js';
import { submitCampaign } from '../service/submit.js';
import { bearerChecker } from './auth.js';
import { ApiError, toServiceError } from './errors.js';
import { campaignListItem, campaignView } from './campaign-view.js';
import { followEvents } from './event-follower.js';
import { loadCampaignService, MAX_MESSAGE_BYTES } from './proto.js';
import type {
  CampaignEventMsg,
  CampaignMsg,
  CancelCampaignResponse,
  CreateCampaignRequest,
  CreateCampaignResponse,
  GetCampaignRequest,
  ListCampaignsResponse,
  WatchCampaignRequest,
} from './proto.js';

export interface ApiServerOptions {
  /** redis:// URL (default REDIS_URL or redis://127.0.0.1:6379). */
  redisUrl?: string;
  /** Store key prefix (default 'lf'). */
  prefix?: string;
  /** Expected bearer token (default LORAFUOTA_API_TOKEN); required. */
  token?: string;
  /** HOST:PORT to bind (default 127.0.0.1:50051; port 0 picks a free one). */
  address?: string;
  /** How long one blocking read of a Watch waits before re-checking the stage (default 5000 ms). */
  watchBlockMs?: number;
  /** gRPC server interceptors (request logging). */
  interceptors?: grpc.ServerInterceptor[];
  /** TLS: the server's certificate chain and private key (PEM). Default plaintext. */
  tls?: { certChain: Buffer; privateKey: Buffer };
  /** Structured log (Redis outages); default JSON lines on stderr. */
  log?: HealthLogger;
}

export interface ApiServer {
  port: number;
  /** Number of Watch streams currently open (each holds one Redis connection). */
  activeWatches(): number;
  /** Ends open watches with UNAVAILABLE, stops the server and closes its Redis connections. */
  close(): Promise<void>;
}

function requireId(id: string): string {
  if (!id) throw new ApiError(grpc.status.INVALID_ARGUMENT, 'id: required');
  return id;
}

function notFound(id: string): ApiError {
  return new ApiError(grpc.status.NOT_FOUND, `id: no campaign ${id}`);
}

/** The spec from a Create request, with the request's client token merged in. */
function specFromRequest(req: CreateCampaignRequest): Record<string, unknown> {
  let spec: unknown;
  try {
    spec = JSON.parse(req.specJson);
  } catch (e) {
    throw new ApiError(grpc.status.INVALID_ARGUMENT, `spec_json: not valid JSON (${(e as Error).message})`);
  }
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    throw new ApiError(grpc.status.INVALID_ARGUMENT, 'spec_json: expected a JSON object');
  }
  const s = spec as Record<string, unknown>;
  if (!req.clientToken) return s;
  if (s.clientToken !== undefined && s.clientToken !== req.clientToken) {
    throw new ApiError(grpc.status.INVALID_ARGUMENT, 'client_token: differs from the spec clientToken');
  }
  return { ...s, clientToken: req.clientToken };
}

function serverCredentials(tls: ApiServerOptions['tls']): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  try {
    return grpc.ServerCredentials.createSsl(null, [{ cert_chain: tls.certChain, private_key: tls.privateKey }], false);
  } catch (e) {
    throw new Error(`tls: certificate or key not usable (${(e as Error).message})`);
  }
}

export async function startApiServer(opts: ApiServerOptions = {}): Promise<ApiServer> {
  const token = opts.token ?? process.env.LORAFUOTA_API_TOKEN ?? '';
  const authorized = bearerChecker(token);
  const url = opts.redisUrl ?? defaultRedisUrl();
  const prefix = opts.prefix ?? 'lf';
  const blockMs = opts.watchBlockMs ?? 5000;
  const log = opts.log ?? pino({ base: { pid: process.pid } }, pino.destination(2));
  const health = new RedisHealth(log);
  const redis = new Redis(url);
  health.attach(redis, 'api');
  const store = new CampaignStore(redis, prefix);
  const queue = health.attachBull(campaignQueue(connectionFromUrl(url), prefix), 'api-queue');
  const watches = new Set<(err: Partial<grpc.ServiceError> | null) => void>();
  const unauthenticated = { code: grpc.status.UNAUTHENTICATED, details: 'token: missing or wrong bearer token' };

  /** A unary handler behind the token check; errors not otherwise classified get `other`. */
  function unary<Req, Res>(fn: (req: Req) => Promise<Res>, other?: grpc.status): grpc.handleUnaryCall<Req, Res> {
    return (call, cb) => {
      if (!authorized(call.metadata)) return cb(unauthenticated);
      fn(call.request).then(
        (res) => cb(null, res),
        (e: unknown) => cb(toServiceError(e, other)),
      );
    };
  }

  async function stageOf(id: string): Promise<string | null> {
    return redis.hget(store.keys.campaign(id), 'stage');
  }

  const watch: grpc.handleServerStreamingCall<WatchCampaignRequest, CampaignEventMsg> = (call) => {
    if (!authorized(call.metadata)) return void call.emit('error', unauthenticated);
    const id = call.request.id;
    const conn = redis.duplicate();
    health.attach(conn, 'api-watch');
    let stopped = false;
    let endedWith: Partial<grpc.ServiceError> | null = null;
    const stop = (err: Partial<grpc.ServiceError> | null) => {
      if (stopped) return;
      stopped = true;
      endedWith = err;
      conn.disconnect();
    };
    // Not events.once: that rejects when the call emits 'error', which is how a failed stream ends.
    const cancelled = new Promise<void>((resolve) => call.once('cancelled', () => resolve()));
    void cancelled.then(() => stop(null));
    watches.add(stop);
    const send = async (ev: Record<string, unknown> & { id: string; time: number; type: string }) => {
      const msg: CampaignEventMsg = { id: ev.id, time: Number(ev.time) || 0, type: String(ev.type), json: JSON.stringify(ev) };
      if (!call.write(msg)) await Promise.race([new Promise((resolve) => call.once('drain', resolve)), cancelled]);
    };
    void (async () => {
      try {
        requireId(id);
        if ((await stageOf(id)) === null) throw notFound(id);
        await followEvents({ redis: conn, prefix, id, fromId: call.request.fromEventId, blockMs, send, stopped: () => stopped });
      } catch (e) {
        if (!stopped) endedWith = toServiceError(e);
      } finally {
        watches.delete(stop);
        conn.disconnect();
        if (call.cancelled) return;
        if (endedWith) call.emit('error', endedWith);
        else call.end();
      }
    })();
  };

  const Service = loadCampaignService();
  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    ...(opts.interceptors ? { interceptors: opts.interceptors } : {}),
  });
  server.addService(Service.service, {
    Create: unary<CreateCampaignRequest, CreateCampaignResponse>(
      async (req) => submitCampaign({ store, queue }, specFromRequest(req)),
      grpc.status.INVALID_ARGUMENT,
    ),
    Get: unary<GetCampaignRequest, CampaignMsg>(async (req) => {
      const id = requireId(req.id);
      const c = await store.get(id);
      if (!c) throw notFound(id);
      return campaignView(c, await store.devices(id), req.includeDevices);
    }),
    List: unary<object, ListCampaignsResponse>(async () => ({ campaigns: (await store.list()).map(campaignListItem) })),
    Cancel: unary<{ id: string }, CancelCampaignResponse>(async (req) => {
      const id = requireId(req.id);
      if ((await stageOf(id)) === null) throw notFound(id);
      return { cancelled: await store.requestCancel(id) };
    }),
    Watch: watch,
  });

  const address = opts.address ?? '127.0.0.1:50051';
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(address, serverCredentials(opts.tls), (err, p) => (err ? reject(err) : resolve(p))),
    );
  } catch (e) {
    redis.disconnect();
    await queue.close();
    throw new Error(`listen: cannot bind ${address} (${(e as Error).message})`);
  }

  return {
    port,
    activeWatches: () => watches.size,
    async close() {
      for (const stop of [...watches]) stop({ code: grpc.status.UNAVAILABLE, details: 'server: shutting down' });
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), 2000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      await queue.close();
      await redis.quit();
    },
  };
}
