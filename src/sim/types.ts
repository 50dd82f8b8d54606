/**
 * The contract between the simulated network (ChirpStack gRPC server + radio) and a simulated device.
 * The network owns time, radio loss and scheduling; the device owns its application layer (our device stack).
 * All times are simulated milliseconds since the Unix epoch (see Clock in src/codec/clock.ts).
 */
import type { MulticastFrame, Uplink } from '../device/radio-frames.js';

export type { MulticastFrame, Uplink };

export interface SimulatedDevice {
  readonly devEui: string;
  /** Class A downlink in the RX window that follows the device's own uplink (decrypted FRMPayload). */
  receiveUnicast(fPort: number, data: Uint8Array, nowMs: number): void;
  /** A multicast frame that survived the radio; the device decides whether it is listening and whether it is valid. */
  receiveMulticast(frame: MulticastFrame, nowMs: number): void;
  /** When the device next wants to transmit (simulated ms), or Infinity if never. */
  nextUplinkAt(nowMs: number): number;
  /** Transmit now: the uplink (application answer, or an empty keep-alive on its status port), or null to skip. */
  transmit(nowMs: number): Uplink | null;
}
