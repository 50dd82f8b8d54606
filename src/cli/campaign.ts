/**
 * `lorafuota campaign submit|status|watch|cancel|list`: a client of the gRPC API (`lorafuota serve`).
 */
import type { Command } from 'commander';
import type { ApiClient } from '../api/grpc-client.js';
import { API_TOKEN, readFileFlag, refusedFlag, refuseTokenFlag, requireSecret } from './secrets.js';

interface ApiFlags {
  api?: string;
  token?: string;
  apiTokenFile?: string;
  tls?: boolean;
  tlsCa?: string;
}

function withApiFlags(cmd: Command): Command {
  cmd
    .option('--api <host:port>', 'API server (env LORAFUOTA_API)', process.env.LORAFUOTA_API ?? '127.0.0.1:50051')
    .option('--api-token-file <file>', 'file holding the bearer token (or env LORAFUOTA_API_TOKEN)')
    .option('--tls', 'TLS to the API with the system root certificates')
    .option('--tls-ca <file>', 'TLS to the API trusting this CA certificate (PEM)');
  return refusedFlag(cmd, '--token');
}

/** Opens a client, runs `fn`, always closes the channel (an open channel keeps the process alive). */
async function withClient<T>(flags: ApiFlags, fn: (c: ApiClient) => Promise<T>): Promise<T> {
  refuseTokenFlag(flags.token, '--token', API_TOKEN);
  const token = requireSecret(API_TOKEN, flags.apiTokenFile);
  const tls = flags.tlsCa ? { rootCerts: readFileFlag('tls-ca', flags.tlsCa) } : flags.tls === true;
  const { createApiClient } = await import('../api/grpc-client.js');
  const client = createApiClient({ address: flags.api ?? '127.0.0.1:50051', token, tls });
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

async function readFileOr(field: string, path: string, encoding?: 'utf8'): Promise<Buffer | string> {
  const { readFile } = await import('node:fs/promises');
  try {
    return encoding ? await readFile(path, encoding) : await readFile(path);
  } catch (e) {
    throw new Error(`${field}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

interface SubmitFlags extends ApiFlags {
  image?: string;
  pubkey: string[];
  delta: string[];
  clientToken?: string;
  watch?: boolean;
}

/** The spec file with --image, --pubkey and --client-token applied, as JSON text. */
async function buildSpecJson(path: string, o: SubmitFlags): Promise<string> {
  const text = (await readFileOr('spec', path, 'utf8')) as string;
  let spec: unknown;
  try {
    spec = JSON.parse(text);
  } catch (e) {
    throw new Error(`spec: ${path} is not valid JSON (${(e as Error).message})`);
  }
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new Error(`spec: ${path} must hold a JSON object`);
  const s = spec as Record<string, unknown>;
  if (o.image) s.imageBase64 = ((await readFileOr('image', o.image)) as Buffer).toString('base64');
  if (o.delta?.length) s.deltas = await Promise.all(o.delta.map(async (f) => ({ imageBase64: ((await readFileOr('delta', f)) as Buffer).toString('base64') })));
  if (o.pubkey.length) s.publicKeys = await Promise.all(o.pubkey.map(async (f) => (await readFileOr('pubkey', f, 'utf8')) as string));
  if (o.clientToken) s.clientToken = o.clientToken;
  return JSON.stringify(s);
}

/** Back-off between reconnections of `watch` while the API is unavailable (restart, deploy): doubling, capped. */
const WATCH_BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];

/** Calls `fn` until it succeeds or fails with something else than UNAVAILABLE, backing off; tells stderr when it waits long. */
async function untilAvailable<T>(fn: (progressed: () => void) => Promise<T>, isUnavailable: (e: unknown) => boolean): Promise<T> {
  for (let failures = 0; ; ) {
    try {
      return await fn(() => (failures = 0));
    } catch (e) {
      if (!isUnavailable(e)) throw e;
      const wait = WATCH_BACKOFF_MS[Math.min(failures, WATCH_BACKOFF_MS.length - 1)]!;
      if (++failures >= 3) process.stderr.write(`lorafuota: api unavailable (${(e as Error).message}); retrying in ${wait / 1000} s (Ctrl-C to stop)\n`);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/** Follows a campaign until its final stage; resolves to the exit status (0 = done with every device updated). */
async function watchCampaign(client: ApiClient, id: string): Promise<number> {
  const { allUpdated, barView, lineView, failureBreakdown } = await import('./progress.js');
  const { isUnavailable } = await import('../api/grpc-client.js');
  const out = process.stdout;
  const first = await client.get(id);
  const view = out.isTTY ? await barView(out, first) : lineView((s) => out.write(s));
  const refresh = out.isTTY ? setInterval(() => void client.get(id).then(view.update, () => {}), 1000) : undefined;
  try {
    let cursor = '0';
    // Reconnects until the campaign ends or the user stops it, resuming after the last event seen.
    await untilAvailable(async (progressed) => {
      for await (const ev of client.watch(id, cursor).events) {
        view.event(ev);
        cursor = ev.id;
        progressed();
      }
    }, isUnavailable);
    const last = await untilAvailable(() => client.get(id, true), isUnavailable);
    view.update(last);
    view.stop();
    out.write(`${last.stage}: ${last.byStatus.Updated ?? 0}/${last.devicesTotal} devices updated${last.error ? ` (${last.error})` : ''}\n`);
    out.write(failureBreakdown(last));
    return allUpdated(last) ? 0 : 1;
  } finally {
    clearInterval(refresh);
    view.stop();
  }
}

export function register(program: Command): void {
  const campaign = program.command('campaign').description('submit, inspect, follow and cancel campaigns through the API');

  withApiFlags(
    campaign
      .command('submit')
      .description('submit a campaign spec; prints {"id","created"}')
      .argument('<spec>', 'campaign spec JSON file')
      .option('--image <file>', 'signed image file (fills imageBase64)')
      .option('--delta <file>', 'signed delta image of the same firmware for one base version (repeatable; fills deltas)', (v: string, acc: string[]) => [...acc, v], [])
      .option('--pubkey <file>', 'trusted public key file (repeatable; fills publicKeys)', (v: string, acc: string[]) => [...acc, v], [])
      .option('--client-token <token>', 'idempotency token: resubmitting returns the same campaign')
      .option('--watch', 'follow the campaign after submitting (exit status as in watch)'),
  ).action(async (path: string, o: SubmitFlags) => {
    const specJson = await buildSpecJson(path, o);
    await withClient(o, async (client) => {
      const res = await client.create(specJson);
      process.stdout.write(JSON.stringify({ id: res.id, created: res.created }) + '\n');
      // The planner's warnings (decoder limits exceeded, a frequency off the region's channels, ...) on stderr at once.
      if (res.created) {
        const plan = (await client.get(res.id)).data.plan;
        const warnings = plan ? ((JSON.parse(plan) as { warnings?: unknown[] }).warnings ?? []) : [];
        for (const w of warnings) process.stderr.write(`lorafuota: warning: ${String(w)}\n`);
      }
      if (o.watch) process.exitCode = await watchCampaign(client, res.id);
    });
  });

  withApiFlags(
    campaign
      .command('status')
      .description('stage, device counts and pipeline figures of a campaign')
      .argument('<id>', 'campaign id')
      .option('--json', 'print the Campaign message as JSON')
      .option('--devices', 'include one row per device'),
  ).action(async (id: string, o: ApiFlags & { json?: boolean; devices?: boolean }) => {
    await withClient(o, async (client) => {
      const c = await client.get(id, o.devices === true);
      if (o.json) process.stdout.write(JSON.stringify(c) + '\n');
      else process.stdout.write((await import('./progress.js')).formatStatus(c));
    });
  });

  withApiFlags(
    campaign
      .command('watch')
      .description('follow a campaign until it ends; exit 0 when done with every device updated, else 1')
      .argument('<id>', 'campaign id'),
  ).action(async (id: string, o: ApiFlags) => {
    await withClient(o, async (client) => {
      process.exitCode = await watchCampaign(client, id);
    });
  });

  withApiFlags(
    campaign.command('cancel').description('ask the pipeline to stop a campaign').argument('<id>', 'campaign id'),
  ).action(async (id: string, o: ApiFlags) => {
    await withClient(o, async (client) => {
      const cancelled = await client.cancel(id);
      process.stdout.write(JSON.stringify({ id, cancelled }) + '\n');
      if (!cancelled) process.exitCode = 1;
    });
  });

  withApiFlags(
    campaign.command('list').description('every campaign, oldest first, with device counts').option('--json', 'one JSON object per line'),
  ).action(async (o: ApiFlags & { json?: boolean }) => {
    await withClient(o, async (client) => {
      const { localIso } = await import('./progress.js');
      const all = await client.list();
      if (!o.json && all.length) process.stdout.write(`${'id'.padEnd(36)}  ${'stage'.padEnd(9)}  ${'devices'.padStart(7)}  ${'updated'.padStart(7)}  ${'failed'.padStart(7)}  ${'created'.padEnd(25)}  name\n`);
      for (const item of all) {
        // List carries no device counts: one Get per campaign (without device rows).
        const c = await client.get(item.id);
        const updated = c.byStatus.Updated ?? 0;
        const failed = c.devicesTotal - updated - (c.byStatus.Pending ?? 0);
        process.stdout.write(
          o.json
            ? JSON.stringify(c) + '\n'
            : `${c.id.padEnd(36)}  ${c.stage.padEnd(9)}  ${String(c.devicesTotal).padStart(7)}  ${String(updated).padStart(7)}  ${String(failed).padStart(7)}  ${localIso(c.createdAt).padEnd(25)}  ${c.name}\n`,
        );
      }
    });
  });
}
