/**
 * The vhost-user codec and memory table, against the byte layouts of QEMU's
 * docs/interop/vhost-user.rst (SPEC.md §10.1).
 */
import { describe, expect, it } from 'vitest';
import * as P from '../../../../switch/ports/vhost-user/protocol.js';
import { parseMemoryTable, uvaToGpa, type MemoryTable } from '../../../../switch/ports/vhost-user/memory-table.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('vhost-user wire format', () => {
  it('a reply is request, flags = version 1 | REPLY, size, payload (little-endian)', () => {
    const r = P.encodeReply(P.Req.GET_FEATURES, P.u64Payload(0x140008000n));
    expect(hex(r)).toBe('01000000' + '05000000' + '08000000' + '0080004001000000');
  });

  it('vring address payload: index, flags, desc, used, avail, log', () => {
    const b = P.vringAddrPayload({ index: 1, flags: 0, desc: 0x1000n, used: 0x3000n, avail: 0x2000n, log: 0n });
    expect(b.length).toBe(40);
    expect(hex(b.subarray(8, 32))).toBe('0010000000000000' + '0030000000000000' + '0020000000000000');
    expect(P.readVringAddr(b)).toEqual({ index: 1, flags: 0, desc: 0x1000n, used: 0x3000n, avail: 0x2000n, log: 0n });
    expect(P.readVringAddr(b.subarray(0, 39))).toBeNull();
  });

  it('memory table: u32 nregions, u32 padding, then 32-byte regions (the full 8-slot array is accepted too)', () => {
    const regions = [{ guestPhys: 0n, size: 0xa0000n, userAddr: 0x7f0000000000n, mmapOffset: 0n }, { guestPhys: 0x100000n, size: 0x7f00000n, userAddr: 0x7f0000100000n, mmapOffset: 0x100000n }];
    const p = P.memTablePayload(regions);
    expect(p.length).toBe(8 + 64);
    expect(P.readMemTable(p)).toEqual(regions);
    const full = new Uint8Array(P.MEM_TABLE_MAX_BYTES);
    full.set(p);
    expect(P.readMemTable(full)).toEqual(regions);
    expect(P.readMemTable(p.subarray(0, 40))).toMatch(/2 regions need 72 bytes, the payload has 40/);
    expect(P.readMemTable(P.memTablePayload([]))).toMatch(/no regions/);
  });

  it('checkHeader refuses a wrong version, the REPLY flag on a request, and oversize payloads', () => {
    expect(P.checkHeader({ request: 1, flags: 1, size: 0 })).toBeNull();
    expect(P.checkHeader({ request: 1, flags: 9, size: 0 })).toBeNull(); // NEED_REPLY
    expect(P.checkHeader({ request: 1, flags: 0, size: 0 })).toMatch(/version 0/);
    expect(P.checkHeader({ request: 1, flags: 5, size: 8 })).toMatch(/REPLY flag/);
    expect(P.checkHeader({ request: 5, flags: 1, size: 5000 })).toMatch(/SET_MEM_TABLE \(5\): payload size 5000 is above the 4096-byte maximum/);
  });
});

describe('vhost-user memory table', () => {
  const r = (gpa: number, size: number, uva: bigint, off = 0) => ({ guestPhys: BigInt(gpa), size: BigInt(size), userAddr: uva, mmapOffset: BigInt(off) });

  it("a PC's two regions (below 640 KiB, above 1 MiB) from one memfd", () => {
    const t = parseMemoryTable([r(0, 0xa0000, 0x7f0000000000n), r(0x100000, 0x7f00000, 0x7f0000100000n, 0x100000)], [7, 8]) as MemoryTable;
    expect(t.span).toBe(0x8000000);
    expect(uvaToGpa(t, 0x7f0000001000n, 16)).toBe(0x1000);
    expect(uvaToGpa(t, 0x7f0000200000n, 4096)).toBe(0x200000);
    // The hole between the regions, and a range that runs off the end of a region.
    expect(uvaToGpa(t, 0x7f00000b0000n, 16)).toBe(-1);
    expect(uvaToGpa(t, 0x7f000009fff0n, 32)).toBe(-1);
  });

  it('refuses what QEMU never sends', () => {
    expect(parseMemoryTable([r(0, 0x1000, 0n)], [])).toMatch(/1 regions came with 0 file descriptors/);
    expect(parseMemoryTable([r(0, 0, 0n)], [3])).toMatch(/zero size/);
    expect(parseMemoryTable([r(0, 0x2000, 0n), r(0x1000, 0x2000, 0x10000n)], [3, 4])).toMatch(/regions 0 and 1 overlap in guest-physical memory/);
    expect(parseMemoryTable([r(0, 0x2000, 0n), r(0x2000, 0x2000, 0x1000n)], [3, 4])).toMatch(/overlap in the front-end's address space/);
    expect(parseMemoryTable([r(0, 0x1000, 0n, 12)], [3])).toMatch(/mmap offset 0xc, not a multiple of 4096/);
    expect(parseMemoryTable([r(0x800, 0x1000, 0n)], [3])).toMatch(/not page-aligned/);
    expect(parseMemoryTable([r(0xfffff000, 0x2000, 0n)], [3])).toMatch(/ends above 4 GiB/);
    expect(parseMemoryTable([r(0, 0x1000, 0n)], [-1])).toMatch(/invalid file descriptor -1/);
  });
});
