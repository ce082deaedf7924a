import { describe, expect, it } from 'vitest';
import { FrameArea } from '../../queues/frames.js';
import { XdpContext, REDIRECT_PORT } from '../../programs/context.js';
import { makeChain } from '../../programs/chain.js';
import { XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_REDIRECT, XDP_TX, parseVerdict, verdictName } from '../../programs/verdicts.js';
import { continueMask, validateParams, ProgramError } from '../../programs/loader.js';
import type { ProgramModule } from '../../programs/program.js';

function ctxOver(len = 60): { ctx: XdpContext; area: FrameArea } {
  const area = FrameArea.create(4, 2048);
  const ctx = new XdpContext(2048, 3, area.frameViews(), area.frameDataViews());
  ctx.point(1);
  ctx.data = 256;
  ctx.dataMeta = 256;
  ctx.dataEnd = 256 + len;
  ctx.ingressIfindex = 1;
  return { ctx, area };
}

describe('XdpContext', () => {
  it('uses Linux verdict numbers', () => {
    expect([XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT]).toEqual([0, 1, 2, 3, 4]);
    expect(parseVerdict('xdp_drop')).toBe(1);
    expect(parseVerdict('REDIRECT')).toBe(4);
    expect(parseVerdict('nope')).toBe(-1);
    expect(verdictName(7)).toBe('UNKNOWN(7)');
  });

  it('bounds the packet view to its own frame', () => {
    const { ctx, area } = ctxOver();
    expect(ctx.packet.byteOffset).toBe(2048);
    expect(ctx.packet.length).toBe(2048);
    ctx.packet[5000] = 1; // out of the view: ignored by typed-array semantics, never reaches frame 3
    expect(area.bytes[2048 + 5000]).toBe(0);
    expect(() => ctx.view.getUint8(2048)).toThrow(RangeError);
  });

  it('adjustHead grows and shrinks the front within the headroom, keeping metadata in front of data', () => {
    const { ctx } = ctxOver(60);
    expect(ctx.adjustMeta(-8)).toBe(0);
    ctx.packet.set([1, 2, 3, 4, 5, 6, 7, 8], ctx.dataMeta);
    expect(ctx.adjustHead(-14)).toBe(0); // push an outer Ethernet header
    expect(ctx.data).toBe(242);
    expect(ctx.length).toBe(74);
    expect(ctx.dataMeta).toBe(234);
    expect([...ctx.packet.subarray(ctx.dataMeta, ctx.data)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(ctx.adjustHead(-300)).toBe(-1); // beyond the headroom
    expect(ctx.adjustHead(70)).toBe(-1); // would leave less than an Ethernet header
    expect(ctx.adjustHead(14)).toBe(0);
    expect(ctx.data).toBe(256);
  });

  it('adjustTail stays inside the frame and keeps at least an Ethernet header', () => {
    const { ctx } = ctxOver(60);
    expect(ctx.adjustTail(-46)).toBe(0);
    expect(ctx.length).toBe(14);
    expect(ctx.adjustTail(-1)).toBe(-1);
    expect(ctx.adjustTail(2048)).toBe(-1);
    expect(ctx.adjustTail(2048 - 256 - 14)).toBe(0);
    expect(ctx.dataEnd).toBe(2048);
  });

  it('adjustMeta takes multiples of 4 up to 32 bytes', () => {
    const { ctx } = ctxOver();
    expect(ctx.adjustMeta(-3)).toBe(-1);
    expect(ctx.adjustMeta(-36)).toBe(-1);
    expect(ctx.adjustMeta(-32)).toBe(0);
    expect(ctx.adjustMeta(4)).toBe(0);
    expect(ctx.data - ctx.dataMeta).toBe(28);
    expect(ctx.adjustMeta(32)).toBe(-1); // past data
  });

  it('redirect takes an existing ifindex; anything else is ABORTED', () => {
    const { ctx } = ctxOver();
    expect(ctx.redirect(3)).toBe(XDP_REDIRECT);
    expect(ctx.redirectKind).toBe(REDIRECT_PORT);
    expect(ctx.redirectIndex).toBe(2);
    expect(ctx.redirect(4)).toBe(XDP_ABORTED);
    expect(ctx.redirect(0)).toBe(XDP_ABORTED);
  });
});

describe('chains and parameters', () => {
  it('continues only on the verdicts in each program’s continue-mask (libxdp dispatcher)', () => {
    const { ctx } = ctxOver();
    const seen: string[] = [];
    const a = () => (seen.push('a'), XDP_PASS);
    const b = () => (seen.push('b'), XDP_DROP);
    const c = () => (seen.push('c'), XDP_TX);
    expect(makeChain([a, b, c], [continueMask(['PASS']), continueMask(['PASS']), 0])(ctx)).toBe(XDP_DROP);
    expect(seen).toEqual(['a', 'b']);
    seen.length = 0;
    expect(makeChain([a, b, c], [continueMask(['PASS']), continueMask(['DROP']), 0])(ctx)).toBe(XDP_TX);
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(continueMask(undefined)).toBe(1 << XDP_PASS);
    expect(() => continueMask(['MAYBE'])).toThrow(/unknown verdict 'MAYBE'/);
    expect(() => makeChain(new Array(11).fill(a), new Array(11).fill(0))).toThrow(/at most 10/);
  });

  it('validates parameters with their names and fills defaults', () => {
    const m: ProgramModule = {
      name: 'p',
      description: '',
      params: { rate: { type: 'number', default: 5, description: 'r' }, port: { type: 'string', required: true, description: 'egress' } },
      create: () => () => XDP_DROP,
    };
    expect(validateParams(m, { port: 'a' })).toEqual({ rate: 5, port: 'a' });
    expect(() => validateParams(m, {})).toThrow(/parameter 'port' is required/);
    expect(() => validateParams(m, { port: 'a', rate: 'x' })).toThrow(ProgramError);
    expect(() => validateParams(m, { port: 'a', burst: 1 })).toThrow(/unknown parameter 'burst' \(known: rate, port\)/);
  });
});

describe('chains and bad verdicts', () => {
  it('a verdict that is not an integer 0…4 ends the chain (the engine counts it invalid)', () => {
    const { ctx } = ctxOver();
    let reached = 0;
    const next = () => (reached++, XDP_DROP);
    for (const bad of [2.5, 34, -1, NaN, '2' as unknown as number, undefined as unknown as number]) {
      const v = makeChain([() => bad, next], [continueMask(['PASS']), 0])(ctx);
      expect(Object.is(v, bad)).toBe(true);
    }
    expect(reached).toBe(0);
  });
});
