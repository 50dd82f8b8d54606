/** ChirpStack HTTP integration in (docs/protocol.md §8): `POST <url>?event=up`, JSON or protobuf body. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { UplinkIntake } from './intake.js';

export interface HttpIntake {
  port: number;
  url: string;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;

/**
 * Listens on host:port (0 = free port). Answers 200 to every well-formed request (ChirpStack does not retry),
 * 204 to events other than `up` (ignored), 413 to oversized bodies, 405 to non-POST.
 */
export async function startHttpIntake(intake: UplinkIntake, opts: { host?: string; port?: number } = {}): Promise<HttpIntake> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(405).end();
      return;
    }
    const event = new URL(req.url ?? '/', 'http://x').searchParams.get('event');
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_BODY) {
        intake.reject('http', size, `body over ${MAX_BODY} bytes`);
        res.writeHead(413).end();
        return;
      }
      if (event !== 'up') {
        res.writeHead(204).end();
        return;
      }
      intake.push(Buffer.concat(chunks), 'http');
      res.writeHead(200).end();
    });
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${host}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
