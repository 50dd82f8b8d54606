/**
 * Promise-based client for lorafuota.v1.CampaignService. Failures reject with ApiCallError, whose message names
 * the field and the reason as the server reported them (or `api: ...` when the server cannot be reached).
 */
import * as grpc from '@grpc/grpc-js';
import { loadCampaignService, MAX_MESSAGE_BYTES } from './proto.js';
import type {
  CampaignEventMsg,
  CampaignMsg,
  CancelCampaignResponse,
  CreateCampaignResponse,
  ListCampaignsResponse,
} from './proto.js';

export interface ApiClientOptions {
  /** HOST:PORT of the server. */
  address: string;
  token: string;
  /** true = TLS with the system root certificates; or TLS trusting these root certificates (PEM). Default plaintext. */
  tls?: boolean | { rootCerts: Buffer };
  /** Deadline of unary calls (default 30 s). */
  timeoutMs?: number;
}

export class ApiCallError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

export interface EventWatch {
  events: AsyncIterable<CampaignEventMsg>;
  /** Stops following; the iteration then ends without an error. */
  cancel(): void;
}

export interface ApiClient {
  create(specJson: string, clientToken?: string): Promise<CreateCampaignResponse>;
  get(id: string, includeDevices?: boolean): Promise<CampaignMsg>;
  list(): Promise<CampaignMsg[]>;
  cancel(id: string): Promise<boolean>;
  watch(id: string, fromEventId?: string): EventWatch;
  close(): void;
}

function callError(e: unknown, address: string): ApiCallError {
  const se = e as Partial<grpc.ServiceError>;
  const code = se.code ?? grpc.status.UNKNOWN;
  const details = se.details || (e instanceof Error ? e.message : String(e));
  if (code === grpc.status.UNAVAILABLE && !/^[\w.[\]]+: /.test(details)) {
    return new ApiCallError(code, `api: cannot reach ${address} (${details.replace(/\.?\s*Resolution note:.*$/s, '')})`);
  }
  if (code === grpc.status.DEADLINE_EXCEEDED) return new ApiCallError(code, `api: no answer from ${address} in time`);
  return new ApiCallError(code, details);
}

/** True for failures worth retrying: the server could not be reached or is shutting down. */
export function isUnavailable(e: unknown): boolean {
  return e instanceof ApiCallError && e.code === grpc.status.UNAVAILABLE;
}

type UnaryMethod = (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void;

export function createApiClient(o: ApiClientOptions): ApiClient {
  const Service = loadCampaignService();
  const creds = o.tls === true ? grpc.credentials.createSsl() : o.tls ? grpc.credentials.createSsl(o.tls.rootCerts) : grpc.credentials.createInsecure();
  const client = new Service(o.address, creds, {
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  });
  const metadata = () => {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${o.token}`);
    return md;
  };
  const timeoutMs = o.timeoutMs ?? 30_000;

  function unary<Res>(method: string, req: object): Promise<Res> {
    const fn = (client as unknown as Record<string, UnaryMethod>)[method]!.bind(client);
    return new Promise((resolve, reject) => {
      fn(req, metadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
        err ? reject(callError(err, o.address)) : resolve(res as Res),
      );
    });
  }

  return {
    create: (specJson, clientToken = '') => unary<CreateCampaignResponse>('Create', { specJson, clientToken }),
    get: (id, includeDevices = false) => unary<CampaignMsg>('Get', { id, includeDevices }),
    list: async () => (await unary<ListCampaignsResponse>('List', {})).campaigns,
    cancel: async (id) => (await unary<CancelCampaignResponse>('Cancel', { id })).cancelled,
    watch(id, fromEventId = '0') {
      const call = (client as unknown as Record<string, (req: unknown, md: grpc.Metadata) => grpc.ClientReadableStream<CampaignEventMsg>>)
        .Watch!.call(client, { id, fromEventId }, metadata());
      let cancelled = false;
      async function* events(): AsyncGenerator<CampaignEventMsg> {
        try {
          for await (const ev of call) yield ev as CampaignEventMsg;
        } catch (e) {
          if (cancelled && (e as Partial<grpc.ServiceError>).code === grpc.status.CANCELLED) return;
          throw callError(e, o.address);
        }
      }
      return {
        events: events(),
        cancel() {
          cancelled = true;
          call.cancel();
        },
      };
    },
    close: () => client.close(),
  };
}
