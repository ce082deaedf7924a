import { describe, expect, it } from 'vitest';
import { SteeringControl } from '../../flows/control.js';
import { EthtoolError, parseNtuple } from '../../flows/grammar.js';

const ctl = (queues = 4) => new SteeringControl('eth0', queues);
const run = (c: SteeringControl, line: string) => c.run(line);
const fails = (c: SteeringControl, line: string): string => {
  try {
    c.run(line);
  } catch (e) {
    if (e instanceof EthtoolError) return e.message;
    throw e;
  }
  throw new Error(`accepted: ${line}`);
};

/**
 * Accepted lines, each compared field by field with the rule the kernel would hold, worked
 * out by hand from ethtool's rxclass.c and the key layout in flows/key.ts (mask bit 1 =
 * compare: ethtool's CLI masks, 1 = ignore, appear inverted). Words not listed are 0/0.
 */
interface Expected {
  words: Record<number, [value: number, mask: number]>;
  cookie: bigint;
  loc?: number;
  context?: number;
  flags?: number;
}
// Class word: HasL4 (bit 16) | IP version << 8 | L4 protocol.
const TCP4 = 0x10406, UDP4 = 0x10411, SCTP4 = 0x10484, AH4 = 0x10433, ESP4 = 0x10432;
const TCP6 = 0x10606, UDP6 = 0x10611, SCTP6 = 0x10684, AH6 = 0x10633, ESP6 = 0x10632;
const ALL = 0xffffffff;
const DISC = 0xffffffffffffffffn; // RX_CLS_FLOW_DISC (action -1)
const WAKE = 0xfffffffffffffffen; // RX_CLS_FLOW_WAKE (action -2)
const EXT = 0x80000000, MAC_EXT = 0x40000000, RSS = 0x20000000;

const ACCEPTED: [string, Expected][] = [
  [
    'flow-type tcp4 src-ip 10.0.0.1 m 0.0.0.255 dst-ip 10.0.0.2 tos 0x10 tos-mask 0xf src-port 1024 m 0xff dst-port 80 action 1',
    { words: { 0: [TCP4, 0x1ffff], 1: [0x0a000001, 0xffffff00], 5: [0x0a000002, ALL], 9: [0x10, 0xf0], 10: [0x04000050, 0xff00ffff] }, cookie: 1n },
  ],
  ['flow-type udp4 dst-port 53 queue 2 loc 7', { words: { 0: [UDP4, 0x1ffff], 10: [53, 0xffff] }, cookie: 2n, loc: 7 }],
  ['flow-type sctp4 src-port 0x1f src-port-mask 0 action -1', { words: { 0: [SCTP4, 0x1ffff], 10: [0x001f0000, 0xffff0000] }, cookie: DISC }],
  ['flow-type ah4 src-ip 1.2.3.4 spi 0x100 action -2', { words: { 0: [AH4, 0x1ffff], 1: [0x01020304, ALL], 11: [0x100, ALL] }, cookie: WAKE }],
  [
    'flow-type esp4 dst-ip 192.168.0.1 dst-ip-mask 0.0.255.255 spi 017 m 0 action 3',
    { words: { 0: [ESP4, 0x1ffff], 5: [0xc0a80001, 0xffff0000], 11: [15, ALL] }, cookie: 3n },
  ],
  // ip4 with L4 bytes in the rule: the L4 header must be present (HasL4 joins the class word).
  ['flow-type ip4 l4proto 1 l4data 0xdeadbeef m 0xffff0000 action 0', { words: { 0: [0x10401, 0x1ffff], 10: [0xdeadbeef, 0x0000ffff] }, cookie: 0n }],
  // ip4's spi is the same four L4 bytes as l4data (ethtool's l4_4_bytes).
  ['flow-type ip4 spi 7 tos 4 action 0', { words: { 0: [0x10400, 0x1ff00], 9: [4, 0xff], 10: [7, ALL] }, cookie: 0n }],
  ['flow-type ip4 src-port 1 dst-port 2 action 0', { words: { 0: [0x10400, 0x1ff00], 10: [0x00010002, ALL] }, cookie: 0n }],
  [
    'flow-type tcp6 src-ip fe80::1 m ::ffff dst-ip 2001:db8::2 tclass 3 src-port 5 dst-port 6 action 1',
    {
      words: {
        0: [TCP6, 0x1ffff],
        1: [0xfe800000, ALL], 2: [0, ALL], 3: [0, ALL], 4: [1, 0xffff0000],
        5: [0x20010db8, ALL], 6: [0, ALL], 7: [0, ALL], 8: [2, ALL],
        9: [3, 0xff],
        10: [0x00050006, ALL],
      },
      cookie: 1n,
    },
  ],
  ['flow-type udp6 dst-port 4789 action 3', { words: { 0: [UDP6, 0x1ffff], 10: [0x12b5, 0xffff] }, cookie: 3n }],
  ['flow-type sctp6 dst-ip ::1 action 2', { words: { 0: [SCTP6, 0x1ffff], 5: [0, ALL], 6: [0, ALL], 7: [0, ALL], 8: [1, ALL] }, cookie: 2n }],
  ['flow-type ah6 spi 99 action 1', { words: { 0: [AH6, 0x1ffff], 11: [99, ALL] }, cookie: 1n }],
  ['flow-type esp6 spi 0x7fffffff tclass 0xff action 0', { words: { 0: [ESP6, 0x1ffff], 9: [0xff, 0xff], 11: [0x7fffffff, ALL] }, cookie: 0n }],
  [
    'flow-type ip6 l4proto 58 src-ip ::ffff:10.0.0.1 action 1',
    { words: { 0: [0x63a, 0xffff], 1: [0, ALL], 2: [0, ALL], 3: [0xffff, ALL], 4: [0x0a000001, ALL] }, cookie: 1n },
  ],
  [
    'flow-type ether src 00:11:22:33:44:55 dst ff:ff:ff:ff:ff:ff m 00:00:00:00:00:ff proto 0x0806 action 0',
    { words: { 12: [0x0806, 0xffff], 14: [0xffff, 0xffff], 15: [0xffffffff, 0xffffff00], 16: [0x0011, 0xffff], 17: [0x22334455, ALL] }, cookie: 0n },
  ],
  [
    'flow-type tcp4 vlan 0x123 m 0xf000 vlan-etype 0x8100 user-def 0 action 1',
    { words: { 0: [TCP4, 0x1ffff], 12: [0x81000000, 0xffff0000], 13: [0x123, 0x0fff], 18: [0, ALL], 19: [0, ALL] }, cookie: 1n, flags: EXT },
  ],
  ['flow-type udp4 dst-mac 02:00:00:00:00:01 action 1', { words: { 0: [UDP4, 0x1ffff], 14: [0x0200, 0xffff], 15: [1, ALL] }, cookie: 1n, flags: MAC_EXT }],
  ['flow-type udp4 dst-port 1 context 0 action 0', { words: { 0: [UDP4, 0x1ffff], 10: [1, 0xffff] }, cookie: 0n, context: 0, flags: RSS }],
];

// rx-flow-hash letters → RXH_* bits of uapi/linux/ethtool.h (m 1<<1, v 1<<2, t 1<<3, s 1<<4,
// d 1<<5, f 1<<6, n 1<<7, r 1<<31).
const HASH_LINES: [string, string, number][] = [
  ['rx-flow-hash tcp4 sdfn', 'tcp4', 0xf0],
  ['rx-flow-hash udp6 sd', 'udp6', 0x30],
  ['rx-flow-hash esp4 sdt', 'esp4', 0x38],
  ['rx-flow-hash ether m', 'ether', 0x2],
  ['rx-flow-hash sctp4 r', 'sctp4', 0x80000000],
];

describe('ethtool -N grammar: accepted lines, one per flow type and option', () => {
  for (const [line, want] of ACCEPTED) {
    it(line, () => {
      const cmd = parseNtuple(line.split(' '));
      expect(cmd.op).toBe('add');
      const rule = (cmd as Extract<typeof cmd, { op: 'add' }>).rule;
      expect(rule.flowType).toBe(line.split(' ')[1]);
      const value = new Array<number>(20).fill(0);
      const mask = new Array<number>(20).fill(0);
      for (const [w, [v, m]] of Object.entries(want.words)) {
        value[Number(w)] = v >>> 0;
        mask[Number(w)] = m >>> 0;
      }
      const hex = (a: ArrayLike<number>) => Array.from(a, (x, i) => `${i}:${(x >>> 0).toString(16)}`);
      expect(hex(rule.value), 'key values').toEqual(hex(value));
      expect(hex(rule.mask), 'key masks').toEqual(hex(mask));
      expect(rule.ringCookie).toBe(want.cookie);
      expect(rule.loc).toBe(want.loc);
      expect(rule.context).toBe(want.context ?? 0);
      expect(rule.flags >>> 0).toBe((want.flags ?? 0) >>> 0);
      // The rule manager takes it too.
      expect(() => run(ctl(), `-N ${line}`)).not.toThrow();
    });
  }
  for (const [line, flowType, fields] of HASH_LINES) {
    it(line, () => {
      expect(parseNtuple(line.split(' '))).toEqual({ op: 'rx-flow-hash', flowType, fields, context: undefined });
      expect(() => run(ctl(), `-N ${line}`)).not.toThrow();
    });
  }
});

describe('ethtool -N grammar: rejected lines with ethtool\'s messages', () => {
  const cases: [string, string][] = [
    ['flow-type', 'ethtool: bad command line argument(s)'],
    ['flow-type tcp5 action 1', 'Add rule, invalid syntax'],
    ['flow-type tcp4 spi 5 action 1', 'Add rule, unrecognized option[spi]'],
    ['flow-type tcp6 tos 1 action 1', 'Add rule, unrecognized option[tos]'],
    ['flow-type ether dst-mac 00:00:00:00:00:01 action 1', 'Add rule, unrecognized option[dst-mac]'],
    ['flow-type ah4 src-port 1 action 1', 'Add rule, unrecognized option[src-port]'],
    ['flow-type udp4 dst-port 65536 action 1', 'Invalid dst-port value[65536]'],
    ['flow-type udp4 dst-port 0x1g action 1', 'Invalid dst-port value[0x1g]'],
    ['flow-type udp4 dst-port 08 action 1', 'Invalid dst-port value[08]'],
    ['flow-type udp4 tos 256 action 1', 'Invalid tos value[256]'],
    ['flow-type udp4 src-ip 10.0.0.256 action 1', 'Invalid src-ip value[10.0.0.256]'],
    ['flow-type udp4 src-ip 10.0.0 action 1', 'Invalid src-ip value[10.0.0]'],
    ['flow-type udp6 src-ip fe80:::1 action 1', 'Invalid src-ip value[fe80:::1]'],
    ['flow-type ether src 00:11:22:33:44 action 1', 'Invalid src value[00:11:22:33:44]'],
    ['flow-type udp4 dst-port 1 dst-port 2 action 1', 'Invalid dst-port value[2]'],
    ['flow-type ip4 spi 1 src-port 2 action 1', 'Invalid src-port value[2]'],
    ['flow-type ip4 l4data 1 spi 2 action 1', 'Invalid spi value[2]'],
    ['flow-type udp4 dst-port 1 m 0x10000 action 1', 'Invalid dst-port mask[0x10000]'],
    ['flow-type udp4 action 1 m 0', 'Invalid action mask[0]'],
    ['flow-type udp4 dst-port 1 m', 'Add rule, invalid syntax'],
    ['flow-type udp4 dst-port', 'Add rule, invalid syntax'],
    ['flow-type udp4 action 1 queue 1', 'action and queue are not compatible'],
    ['flow-type udp4 action 1 vf 1', 'action and vf are not compatible'],
    ['flow-type udp4 vf 256 queue 1', 'Invalid vf value[256]'],
    ['flow-type udp4 queue 0x100000000', 'Invalid queue value[0x100000000]'],
    ['flow-type udp4 context', "'context' missing value"],
    ['flow-type udp4 context x', 'Invalid context value[x]'],
    ['flow-type udp4 context 0xffffffff action 1', 'Bad context value ffffffff'],
    ['flow-type udp4 loc 0x100000000 action 1', 'Invalid loc value[0x100000000]'],
    ['flow-type udp4 action 4', 'rmgr: Cannot insert RX class rule: Invalid argument'],
    ['flow-type udp4 queue 1 vf 0', 'rmgr: Cannot insert RX class rule: Operation not supported'],
    ['flow-type udp4 action 1 loc 2048', 'rmgr: Cannot insert RX class rule: Invalid argument'],
    ['flow-type udp4 action 1 context 5', 'rmgr: Cannot insert RX class rule: Invalid argument'],
    ['delete 5', 'rmgr: Cannot delete RX class rule: No such file or directory'],
    ['delete x', 'ethtool: bad command line argument(s)'],
    ['delete -1', 'ethtool: bad command line argument(s)'],
    ['rx-flow-hash tcp4 sdx', 'ethtool: bad command line argument(s)'],
    ['rx-flow-hash ip4 sd', 'ethtool: bad command line argument(s)'],
    ['rx-flow-hash tcp4 sd context', 'ethtool: bad command line argument(s)'],
    ['rx-flow-hash tcp4 sd context 3', 'Cannot change RX network flow hashing options: No such file or directory'],
    ['frobnicate 1', 'ethtool: bad command line argument(s)'],
  ];
  for (const [line, msg] of cases) {
    it(`${line} → ${msg}`, () => expect(fails(ctl(), `-N ${line}`)).toBe(msg));
  }

  it('points at the offending word', () => {
    try {
      parseNtuple(['flow-type', 'udp4', 'dst-port', '99999']);
    } catch (e) {
      expect((e as EthtoolError).arg).toBe(3);
    }
  });
});

describe('rule locations (rmgr)', () => {
  it('rules without loc take the highest free slot and say so', () => {
    const c = ctl();
    expect(run(c, '-N flow-type udp4 dst-port 1 action 1')).toEqual(['Added rule with ID 2047']);
    expect(run(c, '-N flow-type udp4 dst-port 2 action 1')).toEqual(['Added rule with ID 2046']);
    expect(run(c, '-N flow-type udp4 dst-port 3 action 1 loc 2045')).toEqual([]);
    expect(run(c, '-N flow-type udp4 dst-port 4 action 1')).toEqual(['Added rule with ID 2044']);
    run(c, '-N delete 2046');
    expect(run(c, '-N flow-type udp4 dst-port 5 action 1')).toEqual(['Added rule with ID 2046']);
  });
  it('a full table has no slot', () => {
    const c = ctl();
    for (let i = 0; i < 2048; i++) c.state.applyNtuple(parseNtuple(['flow-type', 'udp4', 'dst-port', String(i), 'action', '1', 'loc', String(i)]));
    expect(fails(c, '-N flow-type udp4 action 1')).toBe('rmgr: Cannot find appropriate slot to insert rule');
  });
  it('a rule at an occupied loc replaces it', () => {
    const c = ctl();
    run(c, '-N flow-type udp4 dst-port 1 action 1 loc 3');
    run(c, '-N flow-type tcp4 dst-port 2 action 2 loc 3');
    expect(c.state.rules.size).toBe(1);
    expect(c.state.rules.get(3)!.flowType).toBe('tcp4');
  });
});

describe('ethtool -X', () => {
  const cases: [string, string][] = [
    ['equal 2 weight 1 1', 'Equal and weight options are mutually exclusive'],
    ['equal 2 default', 'Equal and default options are mutually exclusive'],
    ['weight 1 1 default', 'Weight and default options are mutually exclusive'],
    ['start 1 default', 'Start and default options are mutually exclusive'],
    ['start 1', 'Start must be used with equal or weight options'],
    ['default context 1', 'Default and context options are mutually exclusive'],
    ['delete', 'Delete option requires context option'],
    ['context 1 delete weight 1', 'Delete and weight options are mutually exclusive'],
    ['context 1 delete equal 1', 'Delete and equal options are mutually exclusive'],
    ['weight 0 0', 'At least one weight must be non-zero'],
    ['weight 100 100', 'Total weight exceeds the size of the indirection table'],
    ['hkey 6d:5a', 'Key is too short for device (2 < 40)'],
    ['hkey ' + new Array(41).fill('aa').join(':'), 'Key is too long for device (41 > 40)'],
    ['hkey 6d:5z', 'Invalid RSS hash key format'],
    ['hkey 6d-5a', 'Invalid RSS hash key format'],
    ['hfunc foo', 'Unknown hash function: foo'],
    ['hfunc xor', 'Cannot set RX flow hash configuration: Operation not supported'],
    ['equal 5', 'Cannot set RX flow hash configuration: Invalid argument'],
    ['equal 0', 'ethtool: bad command line argument(s)'],
    ['weight', 'ethtool: bad command line argument(s)'],
    ['context 3 equal 2', 'Cannot set RX flow hash configuration: No such file or directory'],
    ['bogus', 'ethtool: bad command line argument(s)'],
  ];
  for (const [line, msg] of cases) it(`${line} → ${msg}`, () => expect(fails(ctl(), `-X ${line}`)).toBe(msg));

  it('equal, start, weight fill the table as ethtool does', () => {
    const c = ctl(8);
    run(c, '-X equal 3 start 2');
    expect(c.state.contexts.get(0)!.indir.slice(0, 7)).toEqual([2, 3, 4, 2, 3, 4, 2]);
    run(c, '-X weight 1 0 3');
    const ind = c.state.contexts.get(0)!.indir;
    expect(ind.filter((q) => q === 0).length).toBe(32);
    expect(ind.filter((q) => q === 1).length).toBe(0);
    expect(ind.filter((q) => q === 2).length).toBe(96);
    run(c, '-X default');
    expect(ind.length).toBe(128);
    expect(c.state.contexts.get(0)!.indir.slice(0, 9)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 0]);
  });

  it('context new / rules on a context / delete', () => {
    const c = ctl(8);
    expect(run(c, '-X context new equal 2 start 4')).toEqual(['New RSS context is 1']);
    expect(run(c, '-X context new')).toEqual(['New RSS context is 2']);
    run(c, '-N flow-type udp4 dst-port 53 context 1 action 1 loc 0');
    expect(fails(c, '-X context 1 delete')).toBe('Cannot set RX flow hash configuration: Device or resource busy');
    expect(fails(c, '-N flow-type udp4 context 1 action 3')).toBe('rmgr: Cannot insert RX class rule: Invalid argument');
    run(c, '-N delete 0');
    expect(run(c, '-X context 1 delete')).toEqual([]);
    expect(c.state.contexts.has(1)).toBe(false);
  });
});

describe('ethtool -L', () => {
  it('combined N changes the queue count and the default table', () => {
    const c = ctl(8);
    run(c, '-L combined 2');
    expect(c.state.queues).toBe(2);
    expect(c.state.contexts.get(0)!.indir.slice(0, 4)).toEqual([0, 1, 0, 1]);
    expect(run(c, '-L combined 2')).toEqual(['no channel parameters changed.', 'current values: rx 0 tx 0 other 0 combined 2']);
  });
  it('refuses what the device cannot do', () => {
    const c = ctl(4);
    expect(fails(c, '-L combined 5')).toBe('Cannot set device channel parameters: Invalid argument');
    expect(fails(c, '-L combined 0')).toBe('Cannot set device channel parameters: Invalid argument');
    expect(fails(c, '-L rx 1')).toBe('Cannot set device channel parameters: Invalid argument');
    expect(fails(c, '-L combined x')).toBe('ethtool: bad command line argument(s)');
    expect(fails(c, '-L queues 1')).toBe('ethtool: bad command line argument(s)');
    run(c, '-N flow-type udp4 action 3 loc 1');
    expect(fails(c, '-L combined 2')).toBe('Cannot set device channel parameters: Invalid argument');
    run(c, '-N delete 1');
    run(c, '-X equal 4');
    expect(fails(c, '-L combined 2')).toBe('Cannot set device channel parameters: Invalid argument');
    run(c, '-X default');
    run(c, '-X context new equal 2'); // context 1: queues 0-1
    run(c, '-N flow-type udp4 context 1 action 2 loc 3'); // → queues 2-3
    expect(fails(c, '-L combined 3')).toBe('Cannot set device channel parameters: Invalid argument');
    run(c, '-N delete 3');
    run(c, '-X context new'); // context 2: the default spread, follows -L
    run(c, '-N flow-type udp4 context 2 action 0 loc 4');
    run(c, '-L combined 2');
    expect(c.state.contexts.get(2)!.indir.slice(0, 4)).toEqual([0, 1, 0, 1]);
  });
});
