/**
 * The one error type the capture readers and writers throw. Every message names the file
 * and, for format errors, the byte offset where the problem starts, so a user can open the
 * file in a hex editor (or `tshark -r`) and see it.
 */
export type PcapErrorCode =
  | 'io' // the file could not be opened, read or written
  | 'bad-magic' // not a pcap/pcapng file, or an unknown byte-order magic
  | 'version' // a format version this reader does not know
  | 'linktype' // a link type other than Ethernet
  | 'oversize' // a record larger than the largest frame the switch carries
  | 'truncated' // the file ends inside a header, record or block
  | 'corrupt'; // lengths or references that cannot be right

export class PcapError extends Error {
  constructor(
    readonly code: PcapErrorCode,
    /** The file (or buffer name) the error is about. */
    readonly file: string,
    /** Byte offset in the file where the problem starts; -1 when it is not about a position. */
    readonly offset: number,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${detail}`, options);
    this.name = 'PcapError';
  }
}
