/**
 * The contract between the simulated network (ChirpStack gRPC server + radio) and a simulated device.
 * The network owns time, radio loss and scheduling; the device owns its application layer (our device stack).
 * All times are simulated milliseconds since the Unix epoch (see Clock in src/codec/clock.ts).
 */
export interface Uplink {
  fPort: number;
  data: Uint8Array;
}

/** A multicast data frame as it is heard on air. FRMPayload is encrypted with the group's McAppSKey and the
 *  frame carries a MIC computed with McNwkSKey (LoRaWAN 1.0.x downlink rules, Dir = 1, DevAddr = McAddr). */
export interface MulticastFrame {
  mcAddr: number;
  fCnt: number;
  fPort: number;
  /** FRMPayload as sent (encrypted). */
  frmPayload: Uint8Array;
  /** The 4-byte frame MIC. */
  mic: Uint8Array;
  /** The full PHYPayload, for devices that want to check the MIC over the real bytes. */
  phyPayload: Uint8Array;
}

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
