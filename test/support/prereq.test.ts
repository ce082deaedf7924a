import { describe, expect, it } from 'vitest';
import { describeNeeding, itNeeding, missing, skipUnless, which } from './prereq.js';

describe('real-peer prerequisites', () => {
  it('finds tools on PATH and in sbin, and names what is missing', () => {
    expect(which('sh')).toMatch(/\/sh$/);
    expect(missing({ tools: ['sh'] })).toBeNull();
    expect(missing({ tools: ['xswitch-no-such-tool'] })).toBe('xswitch-no-such-tool is not installed');
  });

  it('under CI a missing prerequisite fails the test file instead of skipping it', () => {
    expect(() => skipUnless('qemu is not installed', 'QEMU guests', true)).toThrow(/QEMU guests: prerequisite missing under CI=true: qemu is not installed/);
    expect(skipUnless('qemu is not installed', 'QEMU guests', false)).toBe(true);
    expect(skipUnless(null, 'QEMU guests', true)).toBe(false);
  });

  it('itNeeding/describeNeeding: it/describe when present, skip outside CI, a thrown error under CI', () => {
    expect(itNeeding(null, 'tshark checks', true)).toBe(it);
    expect(describeNeeding(null, 'tshark checks', false)).toBe(describe);
    // it.skip and describe.skip are made afresh on each access: not the plain ones is what shows.
    expect(itNeeding('tshark is not installed', 'tshark checks', false)).not.toBe(it);
    expect(describeNeeding('tshark is not installed', 'tshark checks', false)).not.toBe(describe);
    expect(() => itNeeding('tshark is not installed', 'tshark checks', true)).toThrow(/tshark checks: prerequisite missing under CI=true/);
    expect(() => describeNeeding('tshark is not installed', 'tshark checks', true)).toThrow(/prerequisite missing under CI=true/);
  });
});
