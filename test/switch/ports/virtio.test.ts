import { describe, expect, it } from 'vitest';
import virtio from '../../../switch/ports/virtio.js';
import { portOptionIssues } from '../../../switch/ports/options.js';

describe('virtio port options', () => {
  it('accepts its options and says clearly what is wrong', () => {
    const issues = (o: Record<string, unknown>) => portOptionIssues(virtio, { name: 'vm0', type: 'virtio', ...o });
    expect(issues({})).toEqual([]);
    expect(issues({ mac: '52:54:00:aa:bb:cc', queuePairs: 8, queueSize: 4096 })).toEqual([]);
    expect(issues({ mac: 'zz' })).toEqual(["mac: invalid MAC address 'zz'"]);
    expect(issues({ queuePairs: 9 })).toEqual(['queuePairs: must be from 1 to 8, got 9']);
    expect(issues({ queueSize: 1000 })).toEqual(['queueSize: must be a power of two from 1 to 32768, got 1000']);
    expect(issues({ pairs: 2 })).toEqual(["unknown option 'pairs' (virtio takes: mac, queuePairs, queueSize)"]);
    // Never coerced: a string is not a number (it used to become the default, silently).
    expect(issues({ queuePairs: '4', queueSize: '2048' })).toEqual([
      'queuePairs: must be an integer, got "4" (a string)',
      'queueSize: must be an integer, got "2048" (a string)',
    ]);
  });

  it('answers unknown control requests with an error, not a crash', async () => {
    const port = virtio.create({ name: 'vm0', type: 'virtio' });
    const counters = new Float64Array(64);
    await port.open({ name: 'vm0', ifindex: 1, counters, counterIndex: () => 9, log: () => {} } as never);
    expect(() => port.control!({ op: 'bogus' })).toThrow(/unknown control request "bogus"/);
    expect(() => port.control!({ op: 'attach', memory: new ArrayBuffer(8), transport: new SharedArrayBuffer(8) })).toThrow(/SharedArrayBuffer/);
    expect(port.control!({ op: 'status' })).toMatchObject({ attached: false, live: false });
    // Frames for a VM that is not there are dropped and counted, never thrown.
    expect(port.transmit(new Uint8Array(64), 0, 64, 0)).toBe(false);
    expect(counters[9 + 6]).toBe(1); // rx_drop_not_ready
    await port.close();
  });
});
