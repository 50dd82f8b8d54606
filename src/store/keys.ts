/**
 * Every Redis key the service uses, in one place. `prefix` separates deployments and test runs.
 * Keys of one campaign share the hash tag `{id}` so that a Redis Cluster keeps them on one slot
 * (multi-key transactions on a campaign stay legal there).
 */
export class Keys {
  constructor(readonly prefix: string = 'lf') {}
  /** ZSET of campaign ids scored by creation time. */
  campaigns(): string {
    return `${this.prefix}:campaigns`;
  }
  /** Idempotency: client token -> campaign id. */
  token(clientToken: string): string {
    return `${this.prefix}:token:${clientToken}`;
  }
  /** HASH devEui -> id of the campaign the device is in (one active campaign per device). */
  deviceIndex(): string {
    return `${this.prefix}:devidx`;
  }
  /** HASH of campaign fields (stage, spec, plan, counters). */
  campaign(id: string): string {
    return `${this.prefix}:c:{${id}}`;
  }
  /** STRING: the signed image bytes. */
  image(id: string): string {
    return `${this.prefix}:c:{${id}}:image`;
  }
  /** HASH base firmware version (decimal u32) -> the signed delta image for devices running it. */
  deltaImages(id: string): string {
    return `${this.prefix}:c:{${id}}:deltas`;
  }
  /** HASH devEui -> DeviceState JSON. */
  devices(id: string): string {
    return `${this.prefix}:c:{${id}}:dev`;
  }
  /** STREAM of device answers written by the uplink intake, consumed by the pipeline. */
  answers(id: string): string {
    return `${this.prefix}:c:{${id}}:ans`;
  }
  /** STREAM of campaign events for watchers. */
  events(id: string): string {
    return `${this.prefix}:c:{${id}}:ev`;
  }
  /**
   * STRING marker of an answer appended to a campaign's answer stream (set in the same script as the append, on
   * the campaign's slot), so a re-delivered or re-processed uplink is appended once.
   */
  answerMark(campaignId: string, deduplicationId: string): string {
    return `${this.prefix}:c:{${campaignId}}:dd:${deduplicationId}`;
  }
  /** STRING SET NX markers for uplink de-duplication (clock-sync requests). */
  dedup(deduplicationId: string): string {
    return `${this.prefix}:dd:${deduplicationId}`;
  }
  /**
   * HASH devEui -> the next TS004 v2 SessionCnt to give the device. Outside any campaign: a device refuses a
   * SessionCnt it has seen (TS004 v2 §4.4 SessionCntReplay), whichever campaign sends it.
   */
  sessionCnts(): string {
    return `${this.prefix}:sc`;
  }
  /** Pattern matching every key of this prefix (for clean-up in tests). */
  all(): string {
    return `${this.prefix}:*`;
  }
}
