import type { Command } from 'commander';

/** A CLI usage error: main.ts prints it as `lorafuota: <field>: <reason>`. */
export const usage = (field: string, reason: string): Error => new Error(`${field}: ${reason}`);

/** Hex (spaces and a 0x prefix allowed) to bytes, optionally of an exact length. */
export function parseHex(field: string, text: string, length?: number): Uint8Array {
  const clean = text.replace(/\s/g, '').replace(/^0x/i, '');
  if (!/^([0-9a-f]{2})*$/i.test(clean)) throw usage(field, `expected hex digits in pairs, got '${text}'`);
  const bytes = Uint8Array.from(Buffer.from(clean, 'hex'));
  if (length !== undefined && bytes.length !== length) throw usage(field, `expected ${length} bytes (${2 * length} hex digits), got ${bytes.length}`);
  return bytes;
}

export function parseInteger(field: string, text: string, max: number): number {
  const n = /^(0x[0-9a-f]+|\d+)$/i.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!(n <= max)) throw usage(field, `expected an integer 0..${max}, got '${text}'`);
  return n;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

async function multicast(o: { lorawan: string; rootKey: string; mcKey: string; mcAddr: string }): Promise<void> {
  if (o.lorawan !== '1.0' && o.lorawan !== '1.1') throw usage('--lorawan', `expected 1.0 or 1.1, got '${o.lorawan}'`);
  const rootKey = parseHex('--root-key', o.rootKey, 16);
  const mcKey = parseHex('--mc-key', o.mcKey, 16);
  // ChirpStack shows McAddr as a big-endian DevAddr string (01ab23cd); on air it is little-endian.
  const mcAddr = new DataView(parseHex('--mc-addr', o.mcAddr, 4).buffer).getUint32(0, false);
  const k = await import('../codec/keys.js');
  const root = k.mcRootKey(rootKey, o.lorawan);
  const kek = k.mcKEKey(root);
  const s = k.mcSessionKeys(mcKey, mcAddr);
  const out = { mcRootKey: hex(root), mcKEKey: hex(kek), mcKeyEncrypted: hex(k.encryptMcKey(kek, mcKey)), mcAppSKey: hex(s.mcAppSKey), mcNwkSKey: hex(s.mcNwkSKey) };
  process.stdout.write(JSON.stringify(out) + '\n');
}

async function mic(o: { rootKey: string; sessionCnt: string; fragIndex: string; descriptor: string; data: string }): Promise<void> {
  const rootKey = parseHex('--root-key', o.rootKey, 16);
  const sessionCnt = parseInteger('--session-cnt', o.sessionCnt, 0xffff);
  const fragIndex = parseInteger('--frag-index', o.fragIndex, 3);
  const descriptor = parseHex('--descriptor', o.descriptor, 4);
  const data = parseHex('--data', o.data);
  const { dataBlockIntKey } = await import('../codec/keys.js');
  const { dataBlockMic } = await import('../codec/mic.js');
  const key = dataBlockIntKey(rootKey);
  process.stdout.write(JSON.stringify({ dataBlockIntKey: hex(key), mic: hex(dataBlockMic(key, { sessionCnt, fragIndex, descriptor, data })) }) + '\n');
}

/** Registers the `keys` command group: multicast key chain and TS004 v2 data-block MIC. */
export function register(program: Command): void {
  const keys = program.command('keys').description('Multicast (TS005) and data-block (TS004 v2) key derivation');
  keys
    .command('multicast')
    .description('McRootKey, McKEKey, McKey_encrypted and the group session keys for ChirpStack')
    .requiredOption('--lorawan <version>', '1.0 (root key = GenAppKey) or 1.1 (root key = AppKey)')
    .requiredOption('--root-key <hex>', 'GenAppKey (LoRaWAN 1.0.x) or AppKey (1.1), 16 bytes')
    .requiredOption('--mc-key <hex>', 'the group McKey, 16 bytes')
    .requiredOption('--mc-addr <hex>', 'McAddr as ChirpStack shows it, big-endian (e.g. 01ab23cd)')
    .action(multicast);
  keys
    .command('mic')
    .description('DataBlockIntKey and the FragSessionSetupReq MIC over an unpadded data block')
    .requiredOption('--root-key <hex>', 'GenAppKey (LoRaWAN 1.0.x) or AppKey (1.1), 16 bytes')
    .requiredOption('--session-cnt <n>', 'SessionCnt 0..65535')
    .requiredOption('--frag-index <i>', 'FragIndex 0..3')
    .requiredOption('--descriptor <hex>', 'the 4 Descriptor bytes in wire order (e.g. 01020304)')
    .requiredOption('--data <hex>', 'the data block without padding')
    .action(mic);
}
