/**
 * The factory that picks a capture writer by format (the contract both writers implement is
 * capture-writer.ts; its names are re-exported here for callers).
 *
 *   const w = createWriter('out.pcap', { format: 'pcap' });   // ns timestamps by default
 *   w.write(area, offset, length, tsSec, tsNsec);
 *   w.close();                                                // flushes
 *
 * write() copies the packet into the sink's buffer at once, so `src` may be reused as soon
 * as it returns; it allocates nothing.
 */
import { ClassicWriter, type ClassicWriterOptions } from './classic-writer.js';
import { PcapngWriter, type PcapngWriterOptions } from './pcapng-writer.js';

import type { CaptureWriter } from './capture-writer.js';

export { PacketMeta, encodeComment, type CaptureWriter } from './capture-writer.js';

export type WriterOptions = ({ format?: 'pcap' } & ClassicWriterOptions) | ({ format: 'pcapng' } & PcapngWriterOptions);

export function createWriter(file: string, opts: WriterOptions = {}): CaptureWriter {
  return opts.format === 'pcapng' ? new PcapngWriter(file, opts) : new ClassicWriter(file, opts);
}
