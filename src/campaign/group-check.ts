/**
 * No silent loss: ChirpStack v4 sends a multicast item through the group's own gateways, or, when the group has
 * none, through the fewest gateways that heard its members' last uplinks. When neither exists it still accepts the
 * enqueue and advances the group's f_cnt, but stores nothing and sends nothing (one log line on the server). A
 * campaign in that position would "send" every fragment into the void, so it is refused at the group stage, before
 * any fragment; a group whose members are only partly known to ChirpStack gets a warning (the devices that take
 * part in the session uplink during the set-up, so they are known by the time the broadcast starts).
 */
export interface SeenDevice {
  devEui: string;
  /** ChirpStack's `last_seen_at` of the device (absent: never heard). */
  lastSeenAtMs?: number | undefined;
}

export interface SilentLossVerdict {
  /** Set when the campaign must not go on (the reason, naming the field to fix). */
  refuse?: string;
  warning?: string;
}

export function silentLossCheck(gatewayIds: readonly string[], devices: readonly SeenDevice[]): SilentLossVerdict {
  if (gatewayIds.length > 0 || devices.length === 0) return {};
  const never = devices.filter((d) => d.lastSeenAtMs === undefined).length;
  if (never === devices.length) {
    return {
      refuse:
        `multicast.gatewayIds: empty, and none of the ${devices.length} devices has an uplink in ChirpStack, so the group has no gateway to send through ` +
        '(ChirpStack would accept every fragment, advance f_cnt and send nothing); name the gateways in multicast.gatewayIds',
    };
  }
  if (never > 0) {
    return {
      warning: `multicast.gatewayIds: empty; ${never} of ${devices.length} devices have no uplink in ChirpStack yet, so the group's gateways are chosen from the others' last uplinks; name the gateways in multicast.gatewayIds to be sure`,
    };
  }
  return {};
}
