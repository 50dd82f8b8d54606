/**
 * A bounded decoder for the binary `integration.UplinkEvent`: only the fields the intake reads, on the
 * bounds-checked wire reader of @bufbuild/protobuf. Every length is checked against the end of its buffer
 * (a sub-message is decoded from its own slice), unknown fields are skipped, and the number of fields read
 * per event is capped, so the work is linear in the event size and bounded per event.
 *
 * Field numbers (chirpstack/api/proto): integration.UplinkEvent, integration.DeviceInfo, gw.UplinkRxInfo,
 * common.JoinServerContext, google.protobuf.Timestamp/Duration.
 */
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';

/** The parts of one UplinkEvent the intake uses. Absent fields keep their proto3 defaults. */
export interface UplinkEventPb {
  deduplicationId: string;
  /** UplinkEvent.time as [seconds, nanos], when present. */
  time?: [number, number];
  devEui: string;
  applicationId: string;
  hasDeviceInfo: boolean;
  fCnt: number;
  fPort: number;
  data: Uint8Array;
  /** The first rxInfo[].timeSinceGpsEpoch as [seconds, nanos]. */
  timeSinceGpsEpoch?: [number, number];
  /** JoinServerContext.sessionKeyId, when the event carries one. */
  sessionKeyId: string;
}

/** Thrown for any malformed input; `field` names the protobuf path. */
export class PbDecodeError extends Error {
  constructor(readonly field: string, readonly reason: string) {
    super(`${field}: ${reason}`);
  }
}

/** Fields read in one event, across all nesting levels, before it is refused. */
export const MAX_FIELDS_PER_EVENT = 4096;

class Budget {
  fields = 0;
  tick(path: string): void {
    if (++this.fields > MAX_FIELDS_PER_EVENT) throw new PbDecodeError(path, `more than ${MAX_FIELDS_PER_EVENT} fields`);
  }
}

type FieldFn = (r: BinaryReader, field: number, wt: WireType, path: string) => void;

/** Reads every field of one message from its own reader (its own slice, so nothing reads past its end). */
function readMessage(r: BinaryReader, path: string, budget: Budget, onField: FieldFn): void {
  while (r.pos < r.len) {
    budget.tick(path);
    const [field, wt] = r.tag();
    if (wt === WireType.EndGroup) throw new PbDecodeError(path, `unexpected end-group tag (field ${field})`);
    onField(r, field, wt, `${path}.${field}`);
  }
}

function expectWire(wt: WireType, want: WireType, path: string): void {
  if (wt !== want) throw new PbDecodeError(path, `wire type ${wt}, expected ${want}`);
}

function sub(r: BinaryReader, wt: WireType, path: string): BinaryReader {
  expectWire(wt, WireType.LengthDelimited, path);
  return new BinaryReader(r.bytes());
}

function str(r: BinaryReader, wt: WireType, path: string): string {
  expectWire(wt, WireType.LengthDelimited, path);
  return r.string();
}

function u32(r: BinaryReader, wt: WireType, path: string): number {
  expectWire(wt, WireType.Varint, path);
  // The low 32 bits of a varint of up to 10 bytes.
  return r.uint32();
}

/** google.protobuf.Timestamp / Duration: seconds (int64, 1), nanos (int32, 2). */
function secondsNanos(r: BinaryReader, path: string, budget: Budget): [number, number] {
  let seconds = 0;
  let nanos = 0;
  readMessage(r, path, budget, (m, field, wt, p) => {
    if (field === 1) {
      expectWire(wt, WireType.Varint, p);
      seconds = Number(m.int64());
    } else if (field === 2) {
      expectWire(wt, WireType.Varint, p);
      nanos = m.int32();
    } else m.skip(wt, field);
  });
  return [seconds, nanos];
}

/** Decodes; throws PbDecodeError on anything malformed. */
export function decodeUplinkEventPb(bytes: Uint8Array): UplinkEventPb {
  const budget = new Budget();
  const out: UplinkEventPb = { deduplicationId: '', devEui: '', applicationId: '', hasDeviceInfo: false, fCnt: 0, fPort: 0, data: new Uint8Array(0), sessionKeyId: '' };
  try {
    readMessage(new BinaryReader(bytes), 'event', budget, (r, field, wt) => {
      switch (field) {
        case 1:
          out.deduplicationId = str(r, wt, 'deduplicationId');
          return;
        case 2:
          out.time = secondsNanos(sub(r, wt, 'time'), 'time', budget);
          return;
        case 3:
          out.hasDeviceInfo = true;
          readMessage(sub(r, wt, 'deviceInfo'), 'deviceInfo', budget, (m, f, w) => {
            if (f === 3) out.applicationId = str(m, w, 'deviceInfo.applicationId');
            else if (f === 8) out.devEui = str(m, w, 'deviceInfo.devEui');
            else m.skip(w, f);
          });
          return;
        case 7:
          out.fCnt = u32(r, wt, 'fCnt');
          return;
        case 8:
          out.fPort = u32(r, wt, 'fPort');
          return;
        case 10:
          expectWire(wt, WireType.LengthDelimited, 'data');
          out.data = r.bytes();
          return;
        case 12: {
          let gps: [number, number] | undefined;
          readMessage(sub(r, wt, 'rxInfo'), 'rxInfo', budget, (m, f, w) => {
            if (f === 4) gps = secondsNanos(sub(m, w, 'rxInfo.timeSinceGpsEpoch'), 'rxInfo.timeSinceGpsEpoch', budget);
            else m.skip(w, f);
          });
          if (gps && !out.timeSinceGpsEpoch) out.timeSinceGpsEpoch = gps;
          return;
        }
        case 15:
          readMessage(sub(r, wt, 'joinServerContext'), 'joinServerContext', budget, (m, f, w) => {
            if (f === 1) out.sessionKeyId = str(m, w, 'joinServerContext.sessionKeyId');
            else m.skip(w, f);
          });
          return;
        default:
          r.skip(wt, field);
      }
    });
  } catch (err) {
    if (err instanceof PbDecodeError) throw err;
    // The wire reader's own errors: premature EOF, invalid varint, illegal tag, group nesting.
    throw new PbDecodeError('event', err instanceof Error ? err.message : String(err));
  }
  return out;
}
