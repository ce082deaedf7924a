/**
 * Options of the `pcap` port, checked with messages that name the option and say what is
 * allowed.
 *
 *   read: FILE            replay this capture (pcap or pcapng) into the switch
 *   speed: max | original | k   max (default), the capture's timing, or k times its timing
 *   rate: PPS             fixed packets per second instead (excludes speed other than max)
 *   loop: N               passes through the capture, 0 = until stopped (default 1)
 *   preload: BOOL         load the capture into memory first (default true)
 *   backpressure: BOOL    wait for room in the switch instead of dropping: default true
 *                         for speed max (every frame goes through), false when paced (the
 *                         switch drops and counts what it cannot take, as a NIC does)
 *   oversize: error | drop   a frame larger than the switch's frames: fail at open
 *                         (default) or drop it and count rx_oversize
 *   write: FILE           write what the switch transmits out this port
 *   format: pcap | pcapng default from the file name (.pcapng → pcapng), else pcap
 *   precision: ns | us    classic pcap timestamps (default ns)
 */
import type { OptionTypes } from '../options.js';

export interface PcapPortOptions {
  read: string | null;
  speed: number; // 0 = max
  rate: number;
  loop: number;
  preload: boolean;
  backpressure: boolean;
  oversize: 'error' | 'drop';
  write: string | null;
  format: 'pcap' | 'pcapng';
  precision: 'ns' | 'us';
}

/** The options and their kinds (checked before parsePcapOptions by switch/ports/options.ts). */
export const PCAP_OPTIONS: OptionTypes = {
  read: 'string',
  speed: ['string', 'number'],
  rate: 'number',
  loop: 'integer',
  preload: 'boolean',
  backpressure: 'boolean',
  oversize: 'string',
  write: 'string',
  format: 'string',
  precision: 'string',
};

export function parsePcapOptions(c: Record<string, unknown>, errors: string[]): PcapPortOptions {
  const file = (k: string): string | null => {
    const v = c[k];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string' || v === '') {
      errors.push(`'${k}' must be a file path, got ${JSON.stringify(v)}`);
      return null;
    }
    return v;
  };
  const read = file('read');
  const write = file('write');
  if (read === null && write === null && !errors.some((e) => e.startsWith("'read'") || e.startsWith("'write'"))) {
    errors.push("give 'read: FILE' (replay a capture), 'write: FILE' (capture what the port transmits), or both");
  }

  let speed = 0;
  const s = c.speed ?? 'max';
  if (s === 'max') speed = 0;
  else if (s === 'original') speed = 1;
  else if (typeof s === 'number' && Number.isFinite(s) && s > 0) speed = s;
  else errors.push(`'speed' must be max, original or a positive multiplier of the capture's timing, got ${JSON.stringify(s)}`);

  let rate = 0;
  if (c.rate !== undefined) {
    if (typeof c.rate !== 'number' || !Number.isFinite(c.rate) || c.rate <= 0) {
      errors.push(`'rate' must be a positive number of packets per second, got ${JSON.stringify(c.rate)}`);
    } else rate = c.rate;
  }
  if (rate !== 0 && speed !== 0) errors.push("'rate' and 'speed' other than max exclude each other: pace by the capture's timing or by a fixed rate");

  let loop = 1;
  if (c.loop !== undefined) {
    if (typeof c.loop !== 'number' || !Number.isInteger(c.loop) || c.loop < 0) {
      errors.push(`'loop' must be a whole number of passes (0 = until stopped), got ${JSON.stringify(c.loop)}`);
    } else loop = c.loop;
  }

  let preload = true;
  if (c.preload !== undefined) {
    if (typeof c.preload !== 'boolean') errors.push(`'preload' must be true or false, got ${JSON.stringify(c.preload)}`);
    else preload = c.preload;
  }

  let backpressure = speed === 0 && rate === 0;
  if (c.backpressure !== undefined) {
    if (typeof c.backpressure !== 'boolean') errors.push(`'backpressure' must be true or false, got ${JSON.stringify(c.backpressure)}`);
    else backpressure = c.backpressure;
  }

  const oversize = c.oversize ?? 'error';
  if (oversize !== 'error' && oversize !== 'drop') errors.push(`'oversize' must be error or drop, got ${JSON.stringify(oversize)}`);

  let format: 'pcap' | 'pcapng' = write !== null && /\.pcapng$/i.test(write) ? 'pcapng' : 'pcap';
  if (c.format !== undefined) {
    if (c.format !== 'pcap' && c.format !== 'pcapng') errors.push(`'format' must be pcap or pcapng, got ${JSON.stringify(c.format)}`);
    else format = c.format;
  }
  const precision = c.precision ?? 'ns';
  if (precision !== 'ns' && precision !== 'us') errors.push(`'precision' must be ns or us, got ${JSON.stringify(precision)}`);
  if (c.precision !== undefined && format === 'pcapng') errors.push("'precision' applies to classic pcap; pcapng is always written with nanoseconds");

  if (read === null) {
    for (const k of ['speed', 'rate', 'loop', 'preload', 'backpressure', 'oversize']) if (c[k] !== undefined) errors.push(`'${k}' needs 'read: FILE'`);
  }
  if (write === null) {
    for (const k of ['format', 'precision']) if (c[k] !== undefined) errors.push(`'${k}' needs 'write: FILE'`);
  }

  return {
    read,
    speed,
    rate,
    loop,
    preload,
    backpressure,
    oversize: oversize === 'drop' ? 'drop' : 'error',
    write,
    format,
    precision: precision === 'us' ? 'us' : 'ns',
  };
}
