/**
 * The oracle fragment count: from the simulator's record of which multicast frames each device heard, the fewest
 * fragments (in the order they were sent) after which every device that completed could have decoded the block.
 * A campaign that sent exactly that many would have wasted nothing.
 */
import { createFecEncoder, type FecRule } from '../codec/fec.js';
import { FragDecoder } from '../device/frag-decoder.js';
import type { GroupLossRecord } from './network.js';

export interface OracleInput {
  record: GroupLossRecord;
  image: Uint8Array;
  fragSize: number;
  rule: FecRule;
  /** Devices whose completion counts (those that were updated). */
  devEuis: string[];
}

/** Returns the oracle count, and per device the number of sent fragments after which it could decode. */
export function oracleFragments(o: OracleInput): { oracle: number; perDevice: Map<string, number> } {
  const enc = createFecEncoder(o.image, { fragSize: o.fragSize, rule: o.rule });
  // A fragment sent by several gateways (one queue row each) is one fragment: count each f_cnt once.
  const seen = new Set<number>();
  const frags = o.record.sent.filter((f) => f.fragN !== undefined && !seen.has(f.fCnt) && seen.add(f.fCnt));
  const decoder = new FragDecoder({ maxNbFrag: enc.nbFrag, maxFragSize: o.fragSize, maxLost: enc.nbFrag });
  const perDevice = new Map<string, number>();
  let oracle = 0;
  for (const eui of o.devEuis) {
    const heard = new Set(o.record.received[eui] ?? []);
    decoder.begin({ fragIndex: 0, nbFrag: enc.nbFrag, fragSize: o.fragSize, padding: enc.padding, rule: o.rule });
    let need = frags.length;
    for (let i = 0; i < frags.length; i++) {
      const f = frags[i]!;
      if (!heard.has(f.fCnt)) continue;
      if (decoder.push(f.fragN!, enc.fragment(f.fragN!)) === 'done') {
        need = i + 1;
        break;
      }
    }
    perDevice.set(eui, need);
    oracle = Math.max(oracle, need);
  }
  return { oracle, perDevice };
}
