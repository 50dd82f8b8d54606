import type { Command } from 'commander';

/** A CLI usage error: main.ts prints it as `lorafuota: <field>: <reason>`. */
const usage = (field: string, reason: string): Error => new Error(`${field}: ${reason}`);

async function readInput(field: string, path: string): Promise<Uint8Array> {
  const { readFile } = await import('node:fs/promises');
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    throw usage(field, `cannot read '${path}': ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

async function readText(field: string, path: string): Promise<string> {
  return new TextDecoder().decode(await readInput(field, path));
}

async function parseVersion(field: string, text: string): Promise<number> {
  const { versionToU32 } = await import('../codec/image-header.js');
  try {
    return versionToU32(text);
  } catch (err) {
    throw usage(field, (err as Error).message.replace(/^version: /, ''));
  }
}

/** 'any' or a comma list of hardware revisions 0..15 -> hwCompat bit mask. */
function parseHwCompat(text: string): number {
  if (text === 'any') return 0xffff;
  let mask = 0;
  for (const part of text.split(',')) {
    const rev = /^\d+$/.test(part.trim()) ? Number(part.trim()) : NaN;
    if (!(rev <= 15)) throw usage('--hw-compat', `expected 'any' or a comma list of hardware revisions 0..15, got '${text}'`);
    mask |= 1 << rev;
  }
  return mask;
}

function parseManufacturer(text: string): number {
  const n = /^(0x[0-9a-f]+|\d+)$/i.test(text) ? Number(text) : NaN;
  if (!(n <= 0xffff)) throw usage('--manufacturer', `expected an id 0..65535 (decimal or 0x hex), got '${text}'`);
  return n;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

async function keygen(opts: { out: string; algorithm: string; force?: boolean }): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  const { ALGORITHMS, generateKeyPair, formatPrivateKeyFile, formatPublicKeyFile } = await import('../image/keys.js');
  const algorithm = ALGORITHMS.find((a) => a === opts.algorithm);
  if (!algorithm) throw usage('--algorithm', `expected one of ${ALGORITHMS.join(', ')}, got '${opts.algorithm}'`);
  const pair = generateKeyPair(algorithm);
  const flag = opts.force ? 'w' : 'wx';
  const write = async (path: string, text: string, mode: number) => {
    try {
      await writeFile(path, text, { flag, mode });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw usage('--out', code === 'EEXIST' ? `'${path}' exists (use --force to overwrite)` : `cannot write '${path}': ${code ?? String(err)}`);
    }
  };
  await write(`${opts.out}.key`, formatPrivateKeyFile(pair), 0o600);
  await write(`${opts.out}.pub`, formatPublicKeyFile(pair), 0o644);
  process.stdout.write(`${algorithm} key pair: ${opts.out}.key (private, keep offline) ${opts.out}.pub (public, for devices)\n`);
}

interface SignCliOptions {
  key: string;
  version: string;
  deviceClass: string;
  output: string;
  hwCompat: string;
  manufacturer: string;
}

async function sign(firmwarePath: string, opts: SignCliOptions): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  const { parsePrivateKeyFile } = await import('../image/keys.js');
  const { signImage } = await import('../image/sign.js');
  const version = await parseVersion('--version', opts.version);
  if (opts.deviceClass.length === 0) throw usage('--device-class', 'must not be empty');
  const hwCompat = parseHwCompat(opts.hwCompat);
  const manufacturer = parseManufacturer(opts.manufacturer);
  const key = parsePrivateKeyFile(await readText('--key', opts.key), '--key');
  const firmware = await readInput('FIRMWARE', firmwarePath);
  const image = signImage(firmware, { key, version, deviceClass: opts.deviceClass, hwCompat, manufacturer });
  try {
    await writeFile(opts.output, image);
  } catch (err) {
    throw usage('--output', `cannot write '${opts.output}': ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  process.stdout.write(`${opts.output}: ${image.length} bytes (${image.length - firmware.length} header + signature)\n`);
}

async function verify(imagePath: string, opts: { pubkey: string[]; deviceClass?: string; currentVersion?: string }): Promise<void> {
  const { parsePublicKeyFile } = await import('../image/keys.js');
  const { checkImage } = await import('../device/image-check.js');
  const { u32ToVersion } = await import('../codec/image-header.js');
  const trustedKeys = await Promise.all(opts.pubkey.map(async (p) => parsePublicKeyFile(await readText('--pubkey', p), '--pubkey')));
  const currentVersion = opts.currentVersion === undefined ? 0 : await parseVersion('--current-version', opts.currentVersion);
  const image = await readInput('IMAGE', imagePath);
  const r = checkImage(image, { trustedKeys, deviceClass: opts.deviceClass ?? null, currentVersion });
  if (!r.ok) {
    process.stderr.write(`lorafuota: image: ${r.reason.replace(/-/g, ' ')}: ${r.detail}\n`);
    process.exitCode = 1;
    return;
  }
  const klass = opts.deviceClass ?? Buffer.from(r.header.deviceClassId).toString('hex');
  process.stdout.write(`ok ${klass} ${u32ToVersion(r.version)}\n`);
}

async function inspect(imagePath: string): Promise<void> {
  const { inspectImage } = await import('../image/inspect.js');
  const image = await readInput('IMAGE', imagePath);
  let summary;
  try {
    summary = inspectImage(image);
  } catch (err) {
    throw usage('IMAGE', (err as Error).message);
  }
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
}

/** Registers `lorafuota image keygen|sign|verify|inspect`. */
export function register(program: Command): void {
  const image = program.command('image').description('Signed firmware images: keys, signing, verification, inspection');

  image
    .command('keygen')
    .description('Generate a signing key pair: BASE.key (private) and BASE.pub (public)')
    .requiredOption('--out <base>', 'path prefix of the key files')
    .option('--algorithm <name>', 'ecdsa-p256 or ed25519', 'ecdsa-p256')
    .option('--force', 'overwrite existing key files')
    .action(keygen);

  image
    .command('sign')
    .description('Sign a firmware binary into an image')
    .argument('<FIRMWARE>', 'firmware binary')
    .requiredOption('--key <file>', 'private key file (BASE.key)')
    .requiredOption('--version <X.Y.Z>', 'firmware version')
    .requiredOption('--device-class <name>', 'device class name the image is for')
    .requiredOption('-o, --output <file>', 'image file to write')
    .option('--hw-compat <list>', "hardware revisions 0..15 accepted, comma-separated, or 'any'", 'any')
    .option('--manufacturer <id>', 'manufacturer id 0..65535', '0')
    .action(sign);

  image
    .command('verify')
    .description('Verify an image as a device would; exit 1 naming the reason when it does not verify')
    .argument('<IMAGE>', 'image file')
    .requiredOption('--pubkey <file>', 'trusted public key file (BASE.pub); repeat for several', collect)
    .option('--device-class <name>', 'require this device class')
    .option('--current-version <X.Y.Z>', 'refuse images older than this version (rollback)')
    .action(verify);

  image
    .command('inspect')
    .description('Print the image header as JSON (no verification)')
    .argument('<IMAGE>', 'image file')
    .action(inspect);
}
