/**
 * Interoperability with the tools nobody on this team wrote: tshark, capinfos, tcpdump
 * read what our writers write (same frames, nanosecond timestamps, decoded fields), and
 * our reader reads what text2pcap, editcap, tshark, tcpdump and dumpcap write.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { PcapReader } from '../../../lib/pcap/reader.js';
import { PacketMeta, createWriter, encodeComment, type WriterOptions } from '../../../lib/pcap/writer.js';
import { liveCapture, run, tempDir, udpFrame } from './helpers.js';
import { describeNeeding, missing } from '../../support/prereq.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

const N = 40;
const frames = Array.from({ length: N }, (_, i) => udpFrame(i, 60 + ((i * 97) % 1455)));
const stamp = (i: number): [number, number] => [1_700_000_000 + i, (i * 123_456_789 + 7) % 1e9];

function writeOurs(name: string, opts: WriterOptions, meta?: (i: number, m: PacketMeta) => void): string {
  const file = tmp.file(name);
  const w = createWriter(file, opts);
  const m = new PacketMeta();
  frames.forEach((f, i) => {
    meta?.(i, m);
    w.write(f, 0, f.length, ...stamp(i), f.length, meta ? m : null);
  });
  w.close();
  return file;
}

function fields(file: string, ...names: string[]): string[][] {
  const out = run('tshark', ['-r', file, '-o', 'ip.check_checksum:TRUE', '-T', 'fields', '-E', 'separator=|', ...names.flatMap((n) => ['-e', n])]);
  return out
    .trim()
    .split('\n')
    .map((l) => l.split('|'));
}

/** tshark's and tcpdump's form: always 9 digits; a µs file's last 3 are zeros. */
const epoch = (s: number, ns: number, digits: number) => `${s}.${String(digits === 9 ? ns : Math.floor(ns / 1000) * 1000).padStart(9, '0')}`;

describeNeeding(missing({ tools: ['tshark', 'capinfos', 'tcpdump', 'text2pcap', 'editcap'] }), 'tests that need tshark, capinfos, tcpdump, text2pcap, editcap (Debian packages tshark, tcpdump)')('Wireshark tools', () => {
  describe.each<[string, WriterOptions, number]>([
    ['ours-ns.pcap', { format: 'pcap' }, 9],
    ['ours-us.pcap', { format: 'pcap', precision: 'us' }, 6],
    ['ours-be.pcap', { format: 'pcap', byteOrder: 'be' }, 9],
    ['ours.pcapng', { format: 'pcapng' }, 9],
    ['ours-be.pcapng', { format: 'pcapng', byteOrder: 'be' }, 9],
  ])('%s', (name, opts, digits) => {
    it('tshark decodes the same frames, timestamps and fields; capinfos agrees', () => {
      const file = writeOurs(name, opts);
      const rows = fields(file, 'frame.time_epoch', 'frame.len', 'frame.cap_len', 'ip.src', 'ip.dst', 'udp.srcport', 'udp.dstport', 'ip.checksum.status', 'data.data');
      expect(rows.length).toBe(N);
      rows.forEach((r, i) => {
        const f = frames[i];
        expect(r).toEqual([
          epoch(...stamp(i), digits),
          String(f.length),
          String(f.length),
          `10.0.0.${i}`,
          `192.0.2.${1 + (i % 200)}`,
          String(1024 + i),
          String(9000 + (i % 7)),
          '1', // PROTO_CHECKSUM_E_GOOD (0 bad, 2 unverified)
          f.subarray(42).toString('hex'),
        ]);
      });
      const info = run('capinfos', ['-M', file]);
      expect(info).toMatch(/File encapsulation:\s+ether\n/);
      const type = opts.format === 'pcapng' ? 'pcapng' : digits === 9 ? 'nsecpcap' : 'pcap';
      expect(info).toMatch(new RegExp(`File type:\\s+${type}\\n`));
      expect(info).toMatch(new RegExp(`Number of packets:\\s+${N}\\n`));
      expect(info).toMatch(digits === 9 ? /nanoseconds/ : /microseconds/);
    });

    it('tcpdump reads the same frames and times', () => {
      const file = writeOurs('td-' + name, opts);
      const out = run('tcpdump', ['-r', file, '-nn', '-tt', '-x', '--time-stamp-precision=nano']);
      const heads = out.split('\n').filter((l) => /^\d/.test(l));
      expect(heads.length).toBe(N);
      heads.forEach((l, i) => {
        const [s, ns] = stamp(i);
        expect(l).toContain(`${epoch(s, ns, digits)} IP 10.0.0.${i}.${1024 + i} > 192.0.2.${1 + (i % 200)}.${9000 + (i % 7)}: UDP, length ${frames[i].length - 42}`);
      });
    });
  });

  it('tshark shows the XDP verdict, direction and comment we store in pcapng', () => {
    const drop = encodeComment('verdict=DROP');
    const file = writeOurs('verdicts.pcapng', { format: 'pcapng' }, (i, m) => {
      m.verdict = i % 5;
      m.flags = 2;
      m.comment = i % 5 === 1 ? drop : null;
    });
    const rows = fields(file, 'frame.verdict.ebpf_xdp', 'frame.packet_flags_direction', 'frame.comment');
    rows.forEach((r, i) => expect(r).toEqual([String(i % 5), '0x00000002', i % 5 === 1 ? 'verdict=DROP' : '']));
  });

  it('reads what text2pcap, editcap, tshark and tcpdump write (pcap µs/ns, pcapng)', () => {
    // A hex dump in text2pcap's input format, one frame per block.
    const dump = frames
      .map((f) => {
        const lines: string[] = [];
        for (let o = 0; o < f.length; o += 16) lines.push(o.toString(16).padStart(6, '0') + ' ' + [...f.subarray(o, o + 16)].map((x) => x.toString(16).padStart(2, '0')).join(' '));
        return lines.join('\n') + '\n';
      })
      .join('\n');
    writeFileSync(tmp.file('dump.txt'), dump);
    run('text2pcap', ['-q', tmp.file('dump.txt'), tmp.file('t2p.pcap')]);
    run('text2pcap', ['-q', '-n', tmp.file('dump.txt'), tmp.file('t2p.pcapng')]);
    const ours = writeOurs('src.pcap', { format: 'pcap' });
    run('editcap', ['-F', 'nsecpcap', ours, tmp.file('editcap-ns.pcap')]);
    run('editcap', ['-F', 'pcap', ours, tmp.file('editcap-us.pcap')]);
    run('editcap', ['-F', 'pcapng', ours, tmp.file('editcap.pcapng')]);
    run('tshark', ['-r', ours, '-F', 'pcapng', '-w', tmp.file('tshark.pcapng')]);
    run('tcpdump', ['-r', ours, '-w', tmp.file('tcpdump.pcap')]);
    const cases: [string, number][] = [
      ['t2p.pcap', -1],
      ['t2p.pcapng', -1],
      ['editcap-ns.pcap', 9],
      ['editcap-us.pcap', 6],
      ['editcap.pcapng', 9],
      ['tshark.pcapng', 9],
      ['tcpdump.pcap', 6],
    ];
    for (const [name, digits] of cases) {
      const got = PcapReader.readAll(tmp.file(name), { maxFrameLength: 1792 });
      expect(got.length, name).toBe(N);
      got.forEach((p, i) => {
        expect(p.data.equals(frames[i]), `${name} frame ${i}`).toBe(true);
        if (digits > 0) {
          const [s, ns] = stamp(i);
          expect([p.tsSec, p.tsNsec], `${name} frame ${i}`).toEqual([s, digits === 9 ? ns : Math.floor(ns / 1000) * 1000]);
        }
      });
    }
  });
});

/** Captures of real loopback traffic by dumpcap (pcapng) and tcpdump (pcap): needs root. */
describeNeeding(missing({ tools: ['dumpcap', 'tcpdump'], root: true }), 'tests that need dumpcap, tcpdump and root')('live captures', () => {
  for (const [cmd, file] of [
    ['dumpcap', 'dumpcap.pcapng'],
    ['tcpdump', 'tcpdump-live.pcap'],
  ] as const) {
    it(`${cmd} on lo: every datagram read back`, async () => {
      const port = 40000 + (process.pid % 20000);
      const out = tmp.file(file);
      const args =
        cmd === 'dumpcap'
          ? ['-q', '-i', 'lo', '-c', '10', '-f', `udp dst port ${port}`, '-w', out]
          : ['-i', 'lo', '-c', '10', '-U', '-w', out, `udp dst port ${port}`];
      await liveCapture(cmd, args, port, 'xswitch-capture-test');
      const r = PcapReader.open(out);
      expect(r.format).toBe(cmd === 'dumpcap' ? 'pcapng' : 'pcap');
      let n = 0;
      while (r.next()) {
        const b = r.record.bytes();
        expect(b.readUInt16BE(12)).toBe(0x0800);
        expect(b.readUInt16BE(36)).toBe(port);
        expect(b.subarray(42).toString()).toBe('xswitch-capture-test');
        expect(r.record.tsSec).toBeGreaterThan(1_600_000_000);
        n++;
      }
      r.close();
      expect(n).toBe(10);
    });
  }
});
