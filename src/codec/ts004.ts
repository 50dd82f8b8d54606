/**
 * TS004 Fragmented Data Block Transport, v1 and v2 (TS004-2.0.0 §3; docs/protocol.md §3). Default FPort 201.
 *
 * | CID  | Downlink (size after CID)               | Uplink (size after CID)                      | v    |
 * |------|-----------------------------------------|----------------------------------------------|------|
 * | 0x00 | PackageVersionReq (0)                   | PackageVersionAns (2)                        | 1, 2 |
 * | 0x01 | FragSessionStatusReq (1)                | FragSessionStatusAns (4; v2 also 1)          | 1, 2 |
 * | 0x02 | FragSessionSetupReq (v1 10, v2 16)      | FragSessionSetupAns (1)                      | 1, 2 |
 * | 0x03 | FragSessionDeleteReq (1)                | FragSessionDeleteAns (1)                     | 1, 2 |
 * | 0x04 | FragDataBlockReceivedAns (1)            | FragDataBlockReceivedReq (1)                 | 2    |
 * | 0x08 | DataFragment (2 + FragSize, alone)      | —                                            | 1, 2 |
 *
 * Field naming: FragSessionSetupReq uses `fragAlgo` in both versions (v1 calls it FragmentationMatrix) and
 * FragSessionSetupAns uses the v2 flag names in both versions (v1: EncodingUnsupported = fragAlgoUnsupported,
 * FragSessionIndexNotSupported = fragIndexUnsupported). FragSessionStatusAns keeps each version's own flags.
 */
import { decodeDataFragment, encodeDataFragment } from './data-fragment.js';
import { packageVersionAns, packageVersionReq, type PackageVersionAns, type PackageVersionReq } from './package-version.js';
import { bit, spec, type Reader, type Writer } from './wire.js';

export interface FragSessionStatusReq {
  type: 'FragSessionStatusReq';
  fragIndex: number;
  /** true: every receiver answers; false: only receivers still missing fragments. */
  participants: boolean;
}
export interface FragSessionStatusAns {
  type: 'FragSessionStatusAns';
  fragIndex: number;
  /** 14 bits. */
  nbFragReceived: number;
  missingFrag: number;
  /** v1 status bit 0. */
  notEnoughMatrixMemory?: boolean;
  /** v2 status bit 0. */
  memoryError?: boolean;
  /** v2 status bit 1. */
  micError?: boolean;
  /** v2 status bit 2. */
  sessionDoesNotExist?: boolean;
  /** v2 only: the spec's 1-byte form (SessionDoesNotExist, no counters); fragIndex and counters read as 0. */
  shortForm?: boolean;
}
export interface FragSessionSetupReq {
  type: 'FragSessionSetupReq';
  fragIndex: number;
  /** Bit X set: multicast group X may feed this session. */
  mcGroupBitMask: number;
  /** M, the number of uncoded fragments. */
  nbFrag: number;
  fragSize: number;
  /** 0 = the TS004 code (v1 field name: FragmentationMatrix). */
  fragAlgo: number;
  blockAckDelay: number;
  /** v2: ask for FragDataBlockReceivedReq when the block is complete. */
  ackReception?: boolean;
  padding: number;
  /** Opaque u32, little-endian on air. */
  descriptor: number;
  /** v2 only. */
  sessionCnt?: number;
  /** v2 only: 4 bytes in CMAC order. */
  mic?: Uint8Array;
}
export interface FragSessionSetupAns {
  type: 'FragSessionSetupAns';
  fragIndex: number;
  fragAlgoUnsupported: boolean;
  notEnoughMemory: boolean;
  fragIndexUnsupported: boolean;
  wrongDescriptor: boolean;
  /** v2 only. */
  sessionCntReplay?: boolean;
}
export interface FragSessionDeleteReq {
  type: 'FragSessionDeleteReq';
  fragIndex: number;
}
export interface FragSessionDeleteAns {
  type: 'FragSessionDeleteAns';
  fragIndex: number;
  sessionDoesNotExist: boolean;
}
/** v2, uplink: the device reports the block complete (micError: the MIC did not match, block discarded). */
export interface FragDataBlockReceivedReq {
  type: 'FragDataBlockReceivedReq';
  fragIndex: number;
  micError: boolean;
}
/** v2, downlink. */
export interface FragDataBlockReceivedAns {
  type: 'FragDataBlockReceivedAns';
  fragIndex: number;
}
export interface DataFragment {
  type: 'DataFragment';
  fragIndex: number;
  /** 1..M uncoded, M+1.. coded; 14 bits. */
  n: number;
  payload: Uint8Array;
}

export type Ts004Downlink =
  | PackageVersionReq
  | FragSessionStatusReq
  | FragSessionSetupReq
  | FragSessionDeleteReq
  | FragDataBlockReceivedAns
  | DataFragment;
export type Ts004Uplink =
  | PackageVersionAns
  | FragSessionStatusAns
  | FragSessionSetupAns
  | FragSessionDeleteAns
  | FragDataBlockReceivedReq;
export type Ts004Command = Ts004Downlink | Ts004Uplink;

function writeSetupCommon(c: FragSessionSetupReq, w: Writer, v: 1 | 2): void {
  if (c.fragSize < 1) w.fail('fragSize', `must be 1..255, got ${c.fragSize}`);
  w.bits([
    ['mcGroupBitMask', c.mcGroupBitMask, 4, 0],
    ['fragIndex', c.fragIndex, 2, 4],
  ])
    .u16('nbFrag', c.nbFrag)
    .u8('fragSize', c.fragSize)
    .bits([
      ['blockAckDelay', c.blockAckDelay, 3, 0],
      ['fragAlgo', c.fragAlgo, 3, 3],
      ['ackReception', v === 2 ? c.ackReception : undefined, 1, 6],
    ])
    .u8('padding', c.padding)
    .u32('descriptor', c.descriptor);
}

function readSetupCommon(r: Reader): { req: FragSessionSetupReq; control: number } {
  const s = r.u8('fragSession');
  const nbFrag = r.u16('nbFrag');
  const fragSize = r.u8('fragSize');
  const control = r.u8('control');
  const padding = r.u8('padding');
  const req: FragSessionSetupReq = {
    type: 'FragSessionSetupReq',
    fragIndex: (s >> 4) & 0x03,
    mcGroupBitMask: s & 0x0f,
    nbFrag,
    fragSize,
    fragAlgo: (control >> 3) & 0x07,
    blockAckDelay: control & 0x07,
    padding,
    descriptor: r.u32('descriptor'),
  };
  return { req, control };
}

export const TS004_DOWNLINK = [
  packageVersionReq,
  spec<FragSessionStatusReq>({
    cid: 0x01,
    type: 'FragSessionStatusReq',
    encode: (c, w) =>
      w.bits([
        ['participants', c.participants, 1, 0],
        ['fragIndex', c.fragIndex, 2, 1],
      ]),
    decode: (r) => {
      const b = r.u8('fragIndex');
      return { type: 'FragSessionStatusReq', fragIndex: (b >> 1) & 0x03, participants: bit(b, 0) };
    },
  }),
  spec<FragSessionSetupReq>({
    cid: 0x02,
    type: 'FragSessionSetupReq',
    versions: [1],
    encode: (c, w) => {
      if (c.ackReception) w.fail('ackReception', 'not defined in TS004 v1');
      if (c.sessionCnt !== undefined || c.mic !== undefined) w.fail(c.mic ? 'mic' : 'sessionCnt', 'not defined in TS004 v1');
      writeSetupCommon(c, w, 1);
    },
    decode: (r) => readSetupCommon(r).req,
  }),
  spec<FragSessionSetupReq>({
    cid: 0x02,
    type: 'FragSessionSetupReq',
    versions: [2],
    encode: (c, w) => {
      const { sessionCnt, mic } = c;
      if (sessionCnt === undefined) return w.fail('sessionCnt', 'required in TS004 v2');
      if (mic === undefined) return w.fail('mic', 'required in TS004 v2');
      writeSetupCommon(c, w, 2);
      w.u16('sessionCnt', sessionCnt).raw('mic', mic, 4);
    },
    decode: (r) => {
      const { req, control } = readSetupCommon(r);
      return { ...req, ackReception: bit(control, 6), sessionCnt: r.u16('sessionCnt'), mic: r.raw('mic', 4) };
    },  }),
  spec<FragSessionDeleteReq>({
    cid: 0x03,
    type: 'FragSessionDeleteReq',
    encode: (c, w) => w.bits([['fragIndex', c.fragIndex, 2, 0]]),
    decode: (r) => ({ type: 'FragSessionDeleteReq', fragIndex: r.u8('fragIndex') & 0x03 }),
  }),
  spec<FragDataBlockReceivedAns>({
    cid: 0x04,
    type: 'FragDataBlockReceivedAns',
    versions: [2],
    encode: (c, w) => w.bits([['fragIndex', c.fragIndex, 2, 0]]),
    decode: (r) => ({ type: 'FragDataBlockReceivedAns', fragIndex: r.u8('fragIndex') & 0x03 }),
  }),
  spec<DataFragment>({
    cid: 0x08,
    type: 'DataFragment',
    encode: (c, w) => w.raw('payload', encodeDataFragment(c.fragIndex, c.n, c.payload).subarray(1)),
    decode: (r) => {
      // Alone in its frame, so the fragment's own offsets are frame offsets; it takes the rest of the frame.
      if (r.pos !== 1) r.fail('cid', 'DataFragment must be the only command in its frame', r.pos - 1);
      const f = decodeDataFragment(r.bytes);
      r.pos = r.bytes.length;
      return { type: 'DataFragment', fragIndex: f.fragIndex, n: f.n, payload: f.payload };
    },
  }),
];

export const TS004_UPLINK = [
  packageVersionAns,
  spec<FragSessionStatusAns>({
    cid: 0x01,
    type: 'FragSessionStatusAns',
    versions: [1],
    encode: (c, w) => {
      for (const f of ['memoryError', 'micError', 'sessionDoesNotExist', 'shortForm'] as const) {
        if (c[f]) w.fail(f, 'not defined in TS004 v1 (v1 has only notEnoughMatrixMemory)');
      }
      w.u16('nbFragReceived', receivedAndIndex(c, w))
        .u8('missingFrag', c.missingFrag)
        .bits([['notEnoughMatrixMemory', c.notEnoughMatrixMemory, 1, 0]]);
    },
    decode: (r) => {
      const ri = r.u16('receivedAndIndex');
      const missingFrag = r.u8('missingFrag');
      return {
        type: 'FragSessionStatusAns',
        fragIndex: ri >> 14,
        nbFragReceived: ri & 0x3fff,
        missingFrag,
        notEnoughMatrixMemory: bit(r.u8('status'), 0),
      };
    },
  }),
  spec<FragSessionStatusAns>({
    cid: 0x01,
    type: 'FragSessionStatusAns',
    versions: [2],
    encode: (c, w) => {
      if (c.notEnoughMatrixMemory) w.fail('notEnoughMatrixMemory', 'v1 field; TS004 v2 calls it memoryError');
      if (c.shortForm && !c.sessionDoesNotExist) w.fail('shortForm', 'the 1-byte form requires sessionDoesNotExist');
      w.bits([
        ['memoryError', c.memoryError, 1, 0],
        ['micError', c.micError, 1, 1],
        ['sessionDoesNotExist', c.sessionDoesNotExist, 1, 2],
      ]);
      if (!c.shortForm) w.u16('nbFragReceived', receivedAndIndex(c, w)).u8('missingFrag', c.missingFrag);
    },
    decode: (r) => {
      const s = r.u8('status');
      const flags = { memoryError: bit(s, 0), micError: bit(s, 1), sessionDoesNotExist: bit(s, 2) };
      // §12: with SessionDoesNotExist set, fewer than 3 further bytes means the spec's short form.
      if (flags.sessionDoesNotExist && r.remaining < 3) {
        return { type: 'FragSessionStatusAns', fragIndex: 0, nbFragReceived: 0, missingFrag: 0, ...flags, shortForm: true };
      }
      const ri = r.u16('receivedAndIndex');
      return {
        type: 'FragSessionStatusAns',
        fragIndex: ri >> 14,
        nbFragReceived: ri & 0x3fff,
        missingFrag: r.u8('missingFrag'),
        ...flags,
      };
    },
  }),
  spec<FragSessionSetupAns>({
    cid: 0x02,
    type: 'FragSessionSetupAns',
    versions: [1],
    encode: (c, w) => {
      if (c.sessionCntReplay) w.fail('sessionCntReplay', 'not defined in TS004 v1');
      w.bits(setupAnsBits(c));
    },
    decode: (r) => {
      const b = r.u8('status');
      return { type: 'FragSessionSetupAns', ...setupAnsFlags(b) };
    },
  }),
  spec<FragSessionSetupAns>({
    cid: 0x02,
    type: 'FragSessionSetupAns',
    versions: [2],
    encode: (c, w) => w.bits([...setupAnsBits(c), ['sessionCntReplay', c.sessionCntReplay, 1, 4]]),
    decode: (r) => {
      const b = r.u8('status');
      return { type: 'FragSessionSetupAns', ...setupAnsFlags(b), sessionCntReplay: bit(b, 4) };
    },
  }),
  spec<FragSessionDeleteAns>({
    cid: 0x03,
    type: 'FragSessionDeleteAns',
    encode: (c, w) =>
      w.bits([
        ['fragIndex', c.fragIndex, 2, 0],
        ['sessionDoesNotExist', c.sessionDoesNotExist, 1, 2],
      ]),
    decode: (r) => {
      const b = r.u8('status');
      return { type: 'FragSessionDeleteAns', fragIndex: b & 0x03, sessionDoesNotExist: bit(b, 2) };
    },
  }),
  spec<FragDataBlockReceivedReq>({
    cid: 0x04,
    type: 'FragDataBlockReceivedReq',
    versions: [2],
    encode: (c, w) =>
      w.bits([
        ['fragIndex', c.fragIndex, 2, 0],
        ['micError', c.micError, 1, 2],
      ]),
    decode: (r) => {
      const b = r.u8('status');
      return { type: 'FragDataBlockReceivedReq', fragIndex: b & 0x03, micError: bit(b, 2) };
    },
  }),
];

/** Received&Index u16: bits 15:14 FragIndex, bits 13:0 NbFragReceived. */
function receivedAndIndex(c: FragSessionStatusAns, w: Writer): number {
  if (!Number.isInteger(c.fragIndex) || c.fragIndex < 0 || c.fragIndex > 3) w.fail('fragIndex', `must be an integer in 0..3, got ${c.fragIndex}`);
  if (!Number.isInteger(c.nbFragReceived) || c.nbFragReceived < 0 || c.nbFragReceived > 0x3fff) {
    w.fail('nbFragReceived', `must be an integer in 0..16383, got ${c.nbFragReceived}`);
  }
  return (c.fragIndex << 14) | c.nbFragReceived;
}

function setupAnsBits(c: FragSessionSetupAns): [string, boolean | number, number, number][] {
  return [
    ['fragAlgoUnsupported', c.fragAlgoUnsupported, 1, 0],
    ['notEnoughMemory', c.notEnoughMemory, 1, 1],
    ['fragIndexUnsupported', c.fragIndexUnsupported, 1, 2],
    ['wrongDescriptor', c.wrongDescriptor, 1, 3],
    ['fragIndex', c.fragIndex, 2, 6],
  ];
}

function setupAnsFlags(b: number): Omit<FragSessionSetupAns, 'type'> {
  return {
    fragIndex: b >> 6,
    fragAlgoUnsupported: bit(b, 0),
    notEnoughMemory: bit(b, 1),
    fragIndexUnsupported: bit(b, 2),
    wrongDescriptor: bit(b, 3),
  };
}
