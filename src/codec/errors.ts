/**
 * Typed codec error. Every malformed input the codecs reject is reported with the command it was parsing,
 * the field that is wrong, the byte offset of that field within the frame and a human reason.
 */
export class CodecError extends Error {
  override readonly name = 'CodecError';
  constructor(
    readonly command: string,
    readonly field: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`${command}.${field} at byte ${offset}: ${reason}`);
  }
}
