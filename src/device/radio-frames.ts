/**
 * What a device sends and hears on the radio: its uplink, and a multicast data frame as it is heard on air.
 * The simulated network (src/sim) delivers these to the device stack.
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
