/** Decodes uplinks on the FUOTA ports (TS005 200, TS004 201, TS003 202, TS006 203 by default) with the codecs. */
import { decodeCommands, packageForPort, type AnyCommand, type PackageName, type Versions } from '../codec/frame.js';

export interface PortDecodeResult {
  package: PackageName;
  commands: AnyCommand[];
  /** Set when the frame stopped early (malformed command or unknown CID); `commands` holds what came before. */
  error?: string;
}

export type PortDecoder = (fPort: number, data: Uint8Array, devEui: string) => PortDecodeResult | undefined;

export interface FuotaDecoderOptions {
  ports?: Partial<Record<PackageName, number>>;
  /** Package versions a device runs (from PackageVersionAns); default v1 everywhere. */
  versionsFor?: (devEui: string) => Versions | undefined;
}

export function fuotaPortDecoder(opts: FuotaDecoderOptions = {}): PortDecoder {
  return (fPort, data, devEui) => {
    const pkg = packageForPort(fPort, opts.ports);
    if (!pkg) return undefined;
    const r = decodeCommands(pkg, 'uplink', data, opts.versionsFor?.(devEui));
    const out: PortDecodeResult = { package: pkg, commands: r.commands };
    if (r.error) out.error = r.error.message;
    else if (r.unknownCid) out.error = `cid: unknown 0x${r.unknownCid.cid.toString(16).padStart(2, '0')} at byte ${r.unknownCid.offset}`;
    return out;
  };
}
