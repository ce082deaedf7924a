/**
 * One port's flow-steering state, as a NIC and its driver hold it: the ntuple rule table,
 * the RSS contexts (indirection table, key, hash function, rx-flow-hash fields) and the
 * channel count. `apply` runs one parsed ethtool command the way the kernel would and
 * returns what ethtool prints on success; a refusal throws EthtoolError with the text
 * ethtool prints (its rmgr/perror messages with the kernel's errno string).
 *
 * Sizes, chosen and documented: the rule table has 2048 slots (RULE_TABLE_SIZE; ethtool
 * puts a rule without `loc` in the highest free slot, so the first is ID 2047), the
 * indirection table 128 entries, the key 40 bytes, up to 32 RSS contexts (0 = default).
 */
import { EthtoolError, RXH_IP_DST, RXH_IP_SRC, RXH_L4_B_0_1, RXH_L4_B_2_3, type ChannelsCommand, type NtupleCommand, type RxfhCommand } from './grammar.js';
import { FLOW_RSS } from './key.js';
import { C_AHESP4, C_AHESP6, C_IP4, C_IP6, C_NONIP, C_SCTP4, C_SCTP6, C_TCP4, C_TCP6, C_UDP4, C_UDP6, N_CLASSES } from './packet.js';
import { actionOf, A_QUEUE, type Rule } from './rule.js';
import { DEFAULT_RSS_KEY, RSS_KEY_BYTES } from './toeplitz.js';

export const RULE_TABLE_SIZE = 2048;
export const INDIR_SIZE = 128;
export const MAX_CONTEXTS = 32;
export const HFUNCS = ['toeplitz', 'xor', 'crc32'] as const;

const EINVAL = 'Invalid argument';
const ENOENT = 'No such file or directory';
const EOPNOTSUPP = 'Operation not supported';
const EBUSY = 'Device or resource busy';

/** rx-flow-hash type → the RSS packet class it configures. */
export const RXFH_CLASS: Record<string, number> = {
  tcp4: C_TCP4, udp4: C_UDP4, sctp4: C_SCTP4, ah4: C_AHESP4, esp4: C_AHESP4,
  tcp6: C_TCP6, udp6: C_UDP6, sctp6: C_SCTP6, ah6: C_AHESP6, esp6: C_AHESP6, ether: C_NONIP,
};

export interface RssContext {
  indir: number[];
  key: number[];
  /** Index into HFUNCS (only toeplitz is implemented; the others are refused). */
  hfunc: number;
  /** True once -X set the table: then -L may not shrink below it (as Linux refuses). */
  userIndir: boolean;
  /** RXH_* field bits per RSS class (packet.ts C_*). */
  fields: number[];
}

/** Linux drivers' defaults: 4-tuple for TCP and UDP, addresses for the rest, none for L2. */
function defaultFields(): number[] {
  const sd = RXH_IP_SRC | RXH_IP_DST;
  const sdfn = sd | RXH_L4_B_0_1 | RXH_L4_B_2_3;
  const out = new Array<number>(N_CLASSES).fill(sd);
  for (const c of [C_TCP4, C_UDP4, C_TCP6, C_UDP6]) out[c] = sdfn;
  out[C_NONIP] = 0;
  out[C_IP4] = out[C_IP6] = sd;
  return out;
}

export class PortSteering {
  /** loc → rule. */
  readonly rules = new Map<number, Rule>();
  readonly contexts = new Map<number, RssContext>();
  /** Current channel count (`-L combined`). */
  queues: number;

  /** `maxQueues` is the switch's queue count: the pre-set maximum of `-l`. */
  constructor(readonly name: string, readonly maxQueues: number) {
    if (!Number.isInteger(maxQueues) || maxQueues < 1) throw new Error(`port ${name}: queue count ${maxQueues} is not a positive integer`);
    this.queues = maxQueues;
    this.contexts.set(0, this.newContext(false));
  }

  private newContext(user: boolean, base?: RssContext): RssContext {
    return {
      indir: Array.from({ length: INDIR_SIZE }, (_, i) => i % this.queues),
      key: [...(base?.key ?? DEFAULT_RSS_KEY)],
      hfunc: 0,
      userIndir: user,
      fields: base ? [...base.fields] : defaultFields(),
    };
  }

  /**
   * True while nothing was set: no rule, one RSS context with the default key, hash fields
   * and indirection, all channels. A port in this state spreads flows as plain RSS does, so
   * a medium with queues of its own (run to completion) may spread them itself.
   */
  isDefault(): boolean {
    if (this.rules.size !== 0 || this.contexts.size !== 1 || this.queues !== this.maxQueues) return false;
    const c = this.contexts.get(0)!;
    const fields = defaultFields();
    return !c.userIndir && c.hfunc === 0 && c.key.every((b, i) => b === DEFAULT_RSS_KEY[i]) && c.fields.every((f, i) => f === fields[i]);
  }

  /** Rules in location order (what `-n` lists). */
  sortedRules(): Rule[] {
    return [...this.rules.values()].sort((a, b) => a.loc! - b.loc!);
  }

  /** Runs one -N/-U command; returns the lines ethtool prints on stdout. */
  applyNtuple(cmd: NtupleCommand): string[] {
    if (cmd.op === 'delete') {
      if (!this.rules.delete(cmd.loc)) throw new EthtoolError(`rmgr: Cannot delete RX class rule: ${ENOENT}`);
      return [];
    }
    if (cmd.op === 'rx-flow-hash') {
      const ctx = this.contexts.get(cmd.context ?? 0);
      if (!ctx) throw new EthtoolError(`Cannot change RX network flow hashing options: ${ENOENT}`);
      ctx.fields[RXFH_CLASS[cmd.flowType]] = cmd.fields;
      return [];
    }
    const rule = cmd.rule;
    const fail = (e: string) => new EthtoolError(`rmgr: Cannot insert RX class rule: ${e}`);
    const act = actionOf(rule);
    if (act.kind === A_QUEUE) {
      if (act.vf !== 0) throw fail(EOPNOTSUPP); // xswitch ports have no virtual functions
      if (rule.flags & FLOW_RSS) {
        const ctx = this.contexts.get(rule.context);
        if (!ctx || Math.max(...ctx.indir) + act.queue >= this.queues) throw fail(EINVAL);
      } else if (act.queue >= this.queues) {
        throw fail(EINVAL);
      }
    }
    let loc = rule.loc;
    const auto = loc === undefined;
    if (loc === undefined) {
      for (let l = RULE_TABLE_SIZE - 1; l >= 0; l--) {
        if (!this.rules.has(l)) { loc = l; break; }
      }
      if (loc === undefined) throw new EthtoolError('rmgr: Cannot find appropriate slot to insert rule');
    } else if (loc >= RULE_TABLE_SIZE) {
      throw fail(EINVAL);
    }
    this.rules.set(loc, { ...rule, loc });
    return auto ? [`Added rule with ID ${loc}`] : [];
  }

  /** Runs one -X command. */
  applyRxfh(c: RxfhCommand): string[] {
    const out: string[] = [];
    const fail = (e: string) => new EthtoolError(`Cannot set RX flow hash configuration: ${e}`);
    if (c.hkey && c.hkey.length !== RSS_KEY_BYTES) {
      if (c.hkey.length > RSS_KEY_BYTES) throw new EthtoolError(`Key is too long for device (${RSS_KEY_BYTES + 1} > ${RSS_KEY_BYTES})`, c.hkeyArg);
      throw new EthtoolError(`Key is too short for device (${c.hkey.length} < ${RSS_KEY_BYTES})`, c.hkeyArg);
    }
    let hfunc: number | undefined;
    if (c.hfunc !== undefined) {
      hfunc = HFUNCS.indexOf(c.hfunc as (typeof HFUNCS)[number]);
      if (hfunc < 0) throw new EthtoolError(`Unknown hash function: ${c.hfunc}`);
      if (hfunc !== 0) throw fail(EOPNOTSUPP);
    }
    let indir: number[] | undefined;
    const start = c.start ?? 0;
    if (c.equal !== undefined) {
      if (start + c.equal > this.queues) throw fail(EINVAL);
      indir = Array.from({ length: INDIR_SIZE }, (_, i) => start + (i % c.equal!));
    } else if (c.weights) {
      const sum = c.weights.reduce((a, b) => a + b, 0);
      if (sum === 0) throw new EthtoolError('At least one weight must be non-zero');
      if (sum > INDIR_SIZE) throw new EthtoolError('Total weight exceeds the size of the indirection table');
      indir = [];
      let j = -1;
      let partial = 0;
      for (let i = 0; i < INDIR_SIZE; i++) {
        while (i >= Math.floor((INDIR_SIZE * partial) / sum)) partial += c.weights[++j];
        indir.push(start + j);
      }
      if (start + j >= this.queues) throw fail(EINVAL);
    }
    let id = 0;
    if (c.context === 'new') {
      for (id = 1; id < MAX_CONTEXTS && this.contexts.has(id); id++);
      if (id === MAX_CONTEXTS) throw fail('No space left on device');
      this.contexts.set(id, this.newContext(indir !== undefined, this.contexts.get(0)));
      out.push(`New RSS context is ${id}`);
    } else if (c.context !== undefined) {
      id = c.context;
      if (!this.contexts.has(id)) throw fail(ENOENT);
    }
    const ctx = this.contexts.get(id)!;
    if (c.delete) {
      for (const r of this.rules.values()) if (r.flags & FLOW_RSS && r.context === id) throw fail(EBUSY);
      this.contexts.delete(id);
      return out;
    }
    // Rules steering through this context must still land on a queue.
    if (indir) {
      const top = Math.max(...indir);
      for (const r of this.rules.values()) {
        const a = actionOf(r);
        if (r.flags & FLOW_RSS && r.context === id && a.kind === A_QUEUE && top + a.queue >= this.queues) throw fail(EINVAL);
      }
      ctx.indir = indir;
      ctx.userIndir = true;
    } else if (c.default) {
      ctx.indir = Array.from({ length: INDIR_SIZE }, (_, i) => i % this.queues);
      ctx.userIndir = false;
    }
    if (c.hkey) ctx.key = [...c.hkey];
    if (hfunc !== undefined) ctx.hfunc = hfunc;
    return out;
  }

  /** Runs one -L command. */
  applyChannels(c: ChannelsCommand): string[] {
    const fail = () => new EthtoolError(`Cannot set device channel parameters: ${EINVAL}`);
    const changed = (c.rx !== undefined && c.rx !== 0) || (c.tx !== undefined && c.tx !== 0) ||
      (c.other !== undefined && c.other !== 0) || (c.combined !== undefined && c.combined !== this.queues);
    if (!changed) {
      return ['no channel parameters changed.', `current values: rx 0 tx 0 other 0 combined ${this.queues}`];
    }
    if (c.rx || c.tx || c.other) throw fail(); // xswitch has combined channels only
    const n = c.combined!;
    if (n < 1 || n > this.maxQueues) throw fail();
    for (const ctx of this.contexts.values()) if (ctx.userIndir && Math.max(...ctx.indir) >= n) throw fail();
    for (const r of this.rules.values()) {
      const a = actionOf(r);
      if (a.kind !== A_QUEUE) continue;
      if (!(r.flags & FLOW_RSS) && a.queue >= n) throw fail();
      // A context's table is re-spread over n queues unless -X set it: its top entry + offset.
      const ctx = r.flags & FLOW_RSS ? this.contexts.get(r.context) : undefined;
      if (ctx && (ctx.userIndir ? Math.max(...ctx.indir) : n - 1) + a.queue >= n) throw fail();
    }
    this.queues = n;
    for (const ctx of this.contexts.values()) {
      if (!ctx.userIndir) ctx.indir = Array.from({ length: INDIR_SIZE }, (_, i) => i % n);
    }
    return [];
  }
}
