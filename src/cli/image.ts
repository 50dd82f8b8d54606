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
  deltaFrom?: string;
  baseVersion?: string;
  encoding: string;
  loadAddress?: string;
}

/** A base for --delta-from: a signed image (its firmware and version) or a raw firmware binary. */
async function readBase(path: string, baseVersion: string | undefined): Promise<{ firmware: Uint8Array; version: number }> {
  const bytes = await readInput('--delta-from', path);
  const { splitInstalledImage, splitImage, IMAGE_MAGIC } = await import('../codec/image-header.js');
  const explicit = baseVersion === undefined ? undefined : await parseVersion('--base-version', baseVersion);
  if (IMAGE_MAGIC.every((b, i) => bytes[i] === b)) {
    try {
      const parts = splitImage(bytes);
      if (parts.header.encoding === 'raw') return { firmware: parts.payload.slice(), version: explicit ?? parts.header.firmwareVersion };
      const installed = splitInstalledImage(bytes);
      return { firmware: installed.payload.slice(), version: explicit ?? installed.header.firmwareVersion };
    } catch (err) {
      throw usage('--delta-from', `'${path}' looks like an image but cannot be read: ${(err as Error).message}`);
    }
  }
  return { firmware: bytes, version: explicit ?? 0 };
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
  const encoding = ['raw', 'compressed', 'auto'].find((e) => e === opts.encoding) as 'raw' | 'compressed' | 'auto' | undefined;
  if (!encoding) throw usage('--encoding', `expected raw, compressed or auto, got '${opts.encoding}'`);
  let loadAddress: number | undefined;
  if (opts.loadAddress !== undefined) {
    loadAddress = /^(0x[0-9a-f]{1,8}|\d+)$/i.test(opts.loadAddress) ? Number(opts.loadAddress) : NaN;
    if (!(loadAddress <= 0xffffffff)) throw usage('--load-address', `expected a u32 address (decimal or 0x hex), got '${opts.loadAddress}'`);
  }
  const deltaFrom = opts.deltaFrom === undefined ? undefined : await readBase(opts.deltaFrom, opts.baseVersion);
  const image = signImage(firmware, {
    key,
    version,
    deviceClass: opts.deviceClass,
    hwCompat,
    manufacturer,
    encoding,
    ...(deltaFrom ? { deltaFrom } : {}),
    ...(loadAddress !== undefined ? { loadAddress } : {}),
  });
  try {
    await writeFile(opts.output, image);
  } catch (err) {
    throw usage('--output', `cannot write '${opts.output}': ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const { decodeImageHeader } = await import('../codec/image-header.js');
  const h = decodeImageHeader(image);
  const overhead = image.length - h.payloadLength;
  const what = h.encoding === 'raw' ? '' : ` ${h.encoding}, ${h.payloadLength}-byte payload for ${firmware.length} bytes of firmware,`;
  process.stdout.write(`${opts.output}: ${image.length} bytes (${what ? what.trimStart() + ' ' : ''}${overhead} header + signature)\n`);
}

interface ApplyCliOptions {
  pubkey: string[];
  base?: string;
  output: string;
  deviceClass?: string;
  currentVersion?: string;
  allowDowngrade?: boolean;
  hwRevision?: string;
  manufacturer?: string;
}

async function apply(imagePath: string, opts: ApplyCliOptions): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  const { parsePublicKeyFile } = await import('../image/keys.js');
  const { applyImage } = await import('../device/image-apply.js');
  const trustedKeys = await Promise.all(opts.pubkey.map(async (p) => parsePublicKeyFile(await readText('--pubkey', p), '--pubkey')));
  const currentVersion = opts.currentVersion === undefined ? 0 : await parseVersion('--current-version', opts.currentVersion);
  let hwRevision: number | undefined;
  if (opts.hwRevision !== undefined) {
    hwRevision = /^\d+$/.test(opts.hwRevision) ? Number(opts.hwRevision) : NaN;
    if (!(hwRevision <= 0xffffffff)) throw usage('--hw-revision', `expected a revision number, got '${opts.hwRevision}'`);
  }
  const image = await readInput('IMAGE', imagePath);
  const base = opts.base === undefined ? undefined : await readInput('--base', opts.base);
  const r = applyImage(image, {
    trustedKeys,
    deviceClass: opts.deviceClass ?? null,
    currentVersion,
    ...(opts.allowDowngrade ? { allowDowngrade: true } : {}),
    ...(hwRevision !== undefined ? { hwRevision } : {}),
    ...(opts.manufacturer !== undefined ? { manufacturer: parseManufacturer(opts.manufacturer) } : {}),
    ...(base ? { base } : {}),
  });
  const figures = JSON.stringify({ ramBytes: r.ramBytes, payloadBytes: r.payloadBytes, firmwareBytes: r.firmwareBytes });
  if (!r.ok) {
    process.stderr.write(`lorafuota: image: ${r.reason.replace(/-/g, ' ')}: ${r.detail}\n${figures}\n`);
    process.exitCode = 1;
    return;
  }
  try {
    await writeFile(opts.output, r.firmware);
  } catch (err) {
    process.stderr.write(`lorafuota: --output: cannot write '${opts.output}': ${(err as NodeJS.ErrnoException).code ?? String(err)}\n${figures}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`${opts.output}: ${r.firmware.length} bytes of firmware ${r.header.encoding === 'raw' ? '' : `decoded from a ${r.header.encoding} payload `}(version ${u32ToVersionText(r.header.firmwareVersion)})\n`);
  process.stderr.write(figures + '\n');
}

const u32ToVersionText = (n: number): string => `${n >>> 24}.${(n >>> 16) & 0xff}.${n & 0xffff}`;

async function verify(imagePath: string, opts: { pubkey: string[]; deviceClass?: string; currentVersion?: string; base?: string }): Promise<void> {
  const { parsePublicKeyFile } = await import('../image/keys.js');
  const { checkImage } = await import('../device/image-check.js');
  const { u32ToVersion } = await import('../codec/image-header.js');
  const trustedKeys = await Promise.all(opts.pubkey.map(async (p) => parsePublicKeyFile(await readText('--pubkey', p), '--pubkey')));
  const currentVersion = opts.currentVersion === undefined ? 0 : await parseVersion('--current-version', opts.currentVersion);
  const image = await readInput('IMAGE', imagePath);
  // A delta's base is checked only against --base; without it, the image's own base is taken as given.
  const { sha256 } = await import('@noble/hashes/sha2.js');
  const { decodeImageHeader } = await import('../codec/image-header.js');
  let runningDigest: Uint8Array | undefined;
  if (opts.base !== undefined) runningDigest = sha256(await readInput('--base', opts.base));
  else {
    try {
      runningDigest = decodeImageHeader(image).delta?.baseDigest;
    } catch {
      // checkImage names the structural error
    }
  }
  const r = checkImage(image, { trustedKeys, deviceClass: opts.deviceClass ?? null, currentVersion, ...(runningDigest ? { runningDigest } : {}) });
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

/** Registers `lorafuota image keygen|sign|apply|verify|inspect`. */
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
    .option('--delta-from <old>', 'sign a delta image from this base: the firmware binary the devices run, or its signed image')
    .option('--base-version <X.Y.Z>', 'version of the --delta-from base (default: from its image header, else 0.0.0)')
    .option('--encoding <kind>', 'full image payload: raw, compressed, or auto (compressed when smaller)', 'auto')
    .option('--load-address <addr>', 'address the firmware is linked at, for branch/address prediction', '0x08000000')
    .action(sign);

  image
    .command('apply')
    .description('Run the device-side path (verify, check base, patch or decompress, check the final digest) and write the firmware')
    .argument('<IMAGE>', 'image file')
    .requiredOption('--pubkey <file>', 'trusted public key file (BASE.pub); repeat for several', collect)
    .option('--base <old>', 'the running firmware binary a delta image applies to')
    .requiredOption('-o, --output <file>', 'firmware file to write')
    .option('--device-class <name>', 'require this device class')
    .option('--current-version <X.Y.Z>', 'running version: refuse older images (rollback)')
    .option('--allow-downgrade', 'accept an image older than --current-version')
    .option('--hw-revision <n>', "this device's hardware revision (checked against the image's hwCompat)")
    .option('--manufacturer <id>', "this device's manufacturer id (checked against the image's)")
    .action(apply);

  image
    .command('verify')
    .description('Verify an image as a device would; exit 1 naming the reason when it does not verify')
    .argument('<IMAGE>', 'image file')
    .requiredOption('--pubkey <file>', 'trusted public key file (BASE.pub); repeat for several', collect)
    .option('--device-class <name>', 'require this device class')
    .option('--current-version <X.Y.Z>', 'refuse images older than this version (rollback)')
    .option('--base <old>', 'for a delta image: the running firmware binary its base digest must match')
    .action(verify);

  image
    .command('inspect')
    .description('Print the image header as JSON (no verification)')
    .argument('<IMAGE>', 'image file')
    .action(inspect);
}
