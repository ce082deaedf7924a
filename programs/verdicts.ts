/**
 * XDP verdicts, with Linux's numbers (include/uapi/linux/bpf.h, enum xdp_action). Verdict is
 * the same as a const enum for the switch's own hot paths (see Desc in queues/frames.ts: an
 * imported `const` costs a module-cell load and a hole check per use in optimised code);
 * programs use the XDP_* names.
 */
export const enum Verdict {
  ABORTED = 0,
  DROP = 1,
  PASS = 2,
  TX = 3,
  REDIRECT = 4,
}
export const XDP_ABORTED: number = Verdict.ABORTED;
export const XDP_DROP: number = Verdict.DROP;
export const XDP_PASS: number = Verdict.PASS;
export const XDP_TX: number = Verdict.TX;
export const XDP_REDIRECT: number = Verdict.REDIRECT;

export const VERDICT_NAMES = ['ABORTED', 'DROP', 'PASS', 'TX', 'REDIRECT'] as const;
export type VerdictName = (typeof VERDICT_NAMES)[number];

/** Parses a verdict name (any case, with or without an XDP_ prefix) or number; -1 if unknown. */
export function parseVerdict(s: string): number {
  const u = s.toUpperCase().replace(/^XDP_/, '');
  const i = VERDICT_NAMES.indexOf(u as VerdictName);
  if (i >= 0) return i;
  return /^[0-4]$/.test(s) ? Number(s) : -1;
}

export function verdictName(v: number): string {
  return v >= 0 && v < VERDICT_NAMES.length ? VERDICT_NAMES[v] : `UNKNOWN(${v})`;
}

/** bpf_redirect_map flags (SPEC §5). The low two bits are the verdict on a lookup miss. */
export const BPF_F_MISS_MASK = 3;
export const BPF_F_BROADCAST = 1 << 3;
export const BPF_F_EXCLUDE_INGRESS = 1 << 4;
