import { describe, expect, it } from 'vitest';
import { missing, skipUnless, which } from './prereq.js';

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
});
