/**
 * Every rule the virtio device enforces, one guest-side violation each (SPEC §3.4: what
 * vhost and QEMU reject). Shared by hostile.test.ts (the device alone) and
 * hostile-switch.test.ts (the device as a port of a running switch, another VM beside it).
 */
import * as V from '../../../../queues/virtqueue.js';
import { BUFFERS, MEM_BYTES, Q, RX_LAYOUT, type RawGuest, TABLES, TX_LAYOUT } from './raw-guest.js';

const { VIRTQ_DESC_F_NEXT: NEXT, VIRTQ_DESC_F_WRITE: WRITE, VIRTQ_DESC_F_INDIRECT: INDIRECT } = V;

/** A frame the switch sends the guest. */
export const FRAME = Uint8Array.from({ length: 64 }, (_, i) => i);

export function validTx(g: RawGuest): void {
  g.writeFrame(BUFFERS + 0x8000);
  g.desc(TX_LAYOUT, 3, BUFFERS + 0x8000, 72, 0, 0);
  g.avail(TX_LAYOUT, 3);
}
export function validRx(g: RawGuest): void {
  g.desc(RX_LAYOUT, 5, BUFFERS + 0x9000, 2048, WRITE, 0);
  g.avail(RX_LAYOUT, 5);
}

export interface Violation {
  name: string;
  side: 'tx' | 'rx';
  features?: number[];
  setup(g: RawGuest): void;
  log: RegExp;
}

const TX = TX_LAYOUT;
const RX = RX_LAYOUT;
export const VIOLATIONS: Violation[] = [
  { name: 'avail idx moved by more than Q', side: 'tx', setup: (g) => (g.writeFrame(BUFFERS), g.desc(TX, 0, BUFFERS, 72, 0, 0), g.avail(TX, 0, Q + 1)), log: /avail index/ },
  { name: 'head ≥ Q', side: 'tx', setup: (g) => g.avail(TX, Q), log: /head ≥ queue size/ },
  { name: 'head 0xffff', side: 'tx', setup: (g) => g.avail(TX, 0xffff), log: /head ≥ queue size/ },
  { name: 'next ≥ Q', side: 'tx', setup: (g) => (g.desc(TX, 0, BUFFERS, 12, NEXT, Q), g.avail(TX, 0)), log: /next is out of range/ },
  { name: 'a loop 0 → 1 → 0', side: 'tx', setup: (g) => (g.desc(TX, 0, BUFFERS, 12, NEXT, 1), g.desc(TX, 1, BUFFERS, 60, NEXT, 0), g.avail(TX, 0)), log: /Loop detected/ },
  { name: 'a self loop', side: 'tx', setup: (g) => (g.desc(TX, 2, BUFFERS, 12, NEXT, 2), g.avail(TX, 2)), log: /Loop detected/ },
  {
    name: 'nested indirect',
    side: 'tx',
    setup: (g) => (g.desc(TABLES, 0, TABLES + 0x100, 32, INDIRECT, 0), g.desc(TX, 0, TABLES, 32, INDIRECT, 0), g.avail(TX, 0)),
    log: /Nested indirect/,
  },
  { name: 'indirect with NEXT', side: 'tx', setup: (g) => (g.desc(TABLES, 0, BUFFERS, 72, 0, 0), g.desc(TX, 0, TABLES, 16, INDIRECT | NEXT, 1), g.avail(TX, 0)), log: /NEXT/ },
  { name: 'indirect size not a multiple of 16', side: 'tx', setup: (g) => (g.desc(TX, 0, TABLES, 20, INDIRECT, 0), g.avail(TX, 0)), log: /Invalid size for indirect/ },
  { name: 'indirect size 0', side: 'tx', setup: (g) => (g.desc(TX, 0, TABLES, 0, INDIRECT, 0), g.avail(TX, 0)), log: /Invalid size for indirect/ },
  { name: 'indirect table larger than the queue', side: 'tx', setup: (g) => (g.desc(TX, 0, TABLES, 16 * (Q + 1), INDIRECT, 0), g.avail(TX, 0)), log: /larger than the queue/ },
  { name: 'indirect table outside memory', side: 'tx', setup: (g) => (g.desc(TX, 0, MEM_BYTES - 16, 32, INDIRECT, 0), g.avail(TX, 0)), log: /outside guest memory/ },
  {
    name: 'loop inside an indirect table',
    side: 'tx',
    setup: (g) => (g.desc(TABLES, 0, BUFFERS, 12, NEXT, 1), g.desc(TABLES, 1, BUFFERS, 60, NEXT, 0), g.desc(TX, 0, TABLES, 32, INDIRECT, 0), g.avail(TX, 0)),
    log: /Loop detected/,
  },
  {
    name: 'indirect next beyond its table',
    side: 'tx',
    setup: (g) => (g.desc(TABLES, 0, BUFFERS, 12, NEXT, 2), g.desc(TX, 0, TABLES, 32, INDIRECT, 0), g.avail(TX, 0)),
    log: /next is out of range/,
  },
  {
    name: 'indirect without INDIRECT_DESC negotiated',
    side: 'tx',
    features: [V.VIRTIO_F_VERSION_1],
    setup: (g) => (g.desc(TABLES, 0, BUFFERS, 72, 0, 0), g.desc(TX, 0, TABLES, 16, INDIRECT, 0), g.avail(TX, 0)),
    log: /without INDIRECT_DESC/,
  },
  { name: 'buffer runs past the end of memory', side: 'tx', setup: (g) => (g.desc(TX, 0, MEM_BYTES - 10, 100, 0, 0), g.avail(TX, 0)), log: /outside guest memory/ },
  { name: 'address above 4 GiB', side: 'tx', setup: (g) => (g.desc(TX, 0, BUFFERS, 72, 0, 0, 1), g.avail(TX, 0)), log: /outside guest memory/ },
  { name: 'length 0xffffffff', side: 'tx', setup: (g) => (g.desc(TX, 0, BUFFERS, 0xffffffff, 0, 0), g.avail(TX, 0)), log: /outside guest memory/ },
  { name: 'writable buffer on the TX queue', side: 'tx', setup: (g) => (g.desc(TX, 0, BUFFERS, 12, NEXT, 1), g.desc(TX, 1, BUFFERS + 64, 60, WRITE, 0), g.avail(TX, 0)), log: /format for TX/ },
  {
    name: 'readable after writable (RX)',
    side: 'rx',
    setup: (g) => (g.desc(RX, 0, BUFFERS, 1024, WRITE | NEXT, 1), g.desc(RX, 1, BUFFERS + 1024, 1024, 0, 0), g.avail(RX, 0)),
    log: /out after in/,
  },
  { name: 'readable buffer on the RX queue', side: 'rx', setup: (g) => (g.desc(RX, 0, BUFFERS, 2048, 0, 0), g.avail(RX, 0)), log: /format for RX/ },
  { name: 'avail idx moved by more than Q (RX)', side: 'rx', setup: (g) => (g.desc(RX, 0, BUFFERS, 2048, WRITE, 0), g.avail(RX, 0, 0x8000)), log: /avail index/ },
  { name: 'RX buffer outside memory', side: 'rx', setup: (g) => (g.desc(RX, 0, MEM_BYTES - 100, 2048, WRITE, 0), g.avail(RX, 0)), log: /outside guest memory/ },
  { name: 'RX buffer smaller than the header', side: 'rx', setup: (g) => (g.desc(RX, 0, BUFFERS, 8, WRITE, 0), g.avail(RX, 0)), log: /smaller than the virtio-net header/ },
  { name: 'RX head ≥ Q', side: 'rx', setup: (g) => g.avail(RX, 100), log: /head ≥ queue size/ },
];

