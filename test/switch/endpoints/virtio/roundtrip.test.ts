/**
 * Driver ↔ device across real threads: the VM (guest driver + guest program) runs in its
 * own Worker from dist/, the device side runs here.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceHost, until } from './harness.js';
import * as P from '../../../../lib/net/packets.js';
import type { Vm } from '../../../../guest/runner.js';
import { VIRTIO_NET_F_MRG_RXBUF, VIRTIO_RING_F_EVENT_IDX } from '../../../../queues/virtqueue.js';
import { inetChecksum } from '../../../programs/packets.js';

const HOST_MAC = P.macBytes('02:00:00:00:00:aa');
const HOST_IP = P.ipToU32('10.0.0.1');
const VM_IP = '10.0.0.2';

let host: DeviceHost | null = null;
let vm: Vm | null = null;
afterEach(async () => {
  await vm?.stop().catch(() => {});
  await host?.stop();
  vm = null;
  host = null;
});

function arpRequest(targetIp: number): Uint8Array {
  const b = new Uint8Array(60);
  P.writeArp(b, 0, P.ARP_REQUEST, HOST_MAC, HOST_IP, null, targetIp);
  return b;
}

describe('virtio-net driver ↔ device across threads', () => {
  for (const variant of [
    { name: 'all features', refuse: [] as number[], indirectTx: false },
    { name: 'indirect TX', refuse: [], indirectTx: true },
    { name: 'no EVENT_IDX, no MRG_RXBUF', refuse: [VIRTIO_RING_F_EVENT_IDX, VIRTIO_NET_F_MRG_RXBUF], indirectTx: false },
    { name: 'packed ring', refuse: [], indirectTx: false, packed: true },
    { name: 'packed ring, indirect TX, no EVENT_IDX', refuse: [VIRTIO_RING_F_EVENT_IDX], indirectTx: true, packed: true },
  ] as { name: string; refuse: number[]; indirectTx: boolean; packed?: boolean }[]) {
    it(`negotiates and answers ARP, ping and UDP echo (${variant.name})`, async () => {
      host = new DeviceHost();
      vm = await host.startVm({ program: 'examples/vm/responder', params: { ip: VM_IP }, driver: { refuse: variant.refuse, indirectTx: variant.indirectTx, packed: variant.packed } });
      expect(((vm.features[1] >>> 2) & 1) === 1).toBe(variant.packed === true); // RING_PACKED negotiated or not
      expect(host.dev.describe().live).toBe(true);
      const vmIp = P.ipToU32(VM_IP);
      // ARP
      expect(host.send(arpRequest(vmIp))).toBe(true);
      await until(() => host!.sent.length === 1, 'ARP reply');
      const arp = host.sent.shift()!;
      const out = new Int32Array(2);
      expect(P.classify(arp, 0, arp.length, out)).toBe(P.PKT_ARP_REPLY);
      expect(P.arpSenderIp(arp, 0)).toBe(vmIp);
      const vmMac = arp.slice(6, 12);
      expect(Buffer.from(vmMac).toString('hex')).toBe(vm.mac.replace(/:/g, ''));
      // ICMP echo, 100 of them
      const f = new Uint8Array(2048);
      for (let i = 0; i < 100; i++) {
        const n = P.writeIcmpEcho(f, 0, HOST_MAC, vmMac, HOST_IP, vmIp, 7, i, 56);
        expect(host.send(f.slice(0, n))).toBe(true);
      }
      await until(() => host!.sent.length === 100, '100 echo replies');
      for (const r of host.sent) {
        expect(P.classify(r, 0, r.length, out)).toBe(P.PKT_ICMP_ECHO_REPLY);
        expect(P.ipDst(r, 0)).toBe(HOST_IP);
        // Checked with the test's own RFC 1071 sum, over the lengths the IP header states.
        expect(inetChecksum(r, 14, 34)).toBe(0);
        expect(inetChecksum(r, 34, 14 + ((r[16] << 8) | r[17]))).toBe(0);
      }
      host.sent.length = 0;
      // UDP echo of a full-size frame (spans several RX buffers with MRG_RXBUF when small buffers are used)
      const payload = Uint8Array.from({ length: 1400 }, (_, i) => (i * 7) & 0xff);
      const n = P.writeUdp(f, 0, HOST_MAC, vmMac, HOST_IP, vmIp, 5555, 7, payload);
      expect(host.send(f.slice(0, n))).toBe(true);
      await until(() => host!.sent.length === 1, 'UDP echo');
      const u = host.sent[0];
      expect(P.classify(u, 0, u.length, out)).toBe(P.PKT_UDP);
      expect(P.be16(u, out[0] + 2)).toBe(5555);
      expect(Buffer.from(u.subarray(out[0] + 8)).equals(Buffer.from(payload))).toBe(true);
      const c = vm.counters();
      expect(c.arp_answered).toBe(1);
      expect(c.echo_answered).toBe(100);
      expect(c.udp_echoed).toBe(1);
      expect(c.tx_packets).toBe(102);
      expect(host.dev.counters().tx_drop_malformed).toBe(0);
    });
  }

  for (const packed of [false, true])
  it(`merges a frame across small RX buffers (MRG_RXBUF, num_buffers; ${packed ? 'packed' : 'split'} ring)`, async () => {
    host = new DeviceHost();
    vm = await host.startVm({ program: 'examples/vm/responder', params: { ip: VM_IP }, driver: { rxBufferBytes: 256, packed } });
    const f = new Uint8Array(2048);
    const payload = Uint8Array.from({ length: 1000 }, (_, i) => (i * 3) & 0xff);
    const n = P.writeUdp(f, 0, HOST_MAC, P.macBytes(vm.mac), HOST_IP, P.ipToU32(VM_IP), 5555, 7, payload);
    expect(host.send(f.slice(0, n))).toBe(true);
    await until(() => host!.sent.length === 1, 'UDP echo of a merged frame');
    const out = new Int32Array(2);
    const u = host.sent[0];
    expect(P.classify(u, 0, u.length, out)).toBe(P.PKT_UDP);
    expect(Buffer.from(u.subarray(out[0] + 8)).equals(Buffer.from(payload))).toBe(true);
  });

  for (const packed of [false, true])
  it(`delivers switch queue q to guest pair q mod pairs (MQ, ${packed ? 'packed' : 'split'} ring)`, async () => {
    host = new DeviceHost({ maxPairs: 4 });
    vm = await host.startVm({ program: 'examples/vm/count-drop', driver: { pairs: 4, packed } });
    expect(vm.pairs).toBe(4);
    const f = new Uint8Array(64);
    f.fill(0xff, 0, 6);
    const want = [0, 0, 0, 0];
    for (let i = 0; i < 400; i++) {
      const q = (i * 7) % 8;
      expect(host.dev.transmit(f, 0, 64, q)).toBe(true);
      want[q % 4]++;
      if (i % 16 === 15) host.dev.flush();
    }
    host.dev.flush();
    await until(() => vm!.counter('rx_packets') === 400, '400 frames in the guest');
    expect([0, 1, 2, 3].map((p) => vm!.counter(`rx_q${p}`))).toEqual(want);
  });

  for (const packed of [false, true])
  it(`a guest that stops posting RX buffers: counted drops, then delivery resumes (${packed ? 'packed' : 'split'} ring)`, async () => {
    host = new DeviceHost();
    vm = await host.startVm({ program: 'examples/vm/count-drop', driver: { queueSize: 64, packed } });
    await vm.pauseRx();
    const f = new Uint8Array(64);
    let ok = 0;
    let dropped = 0;
    for (let i = 0; i < 200; i++) {
      if (host.dev.transmit(f, 0, 64, 0)) ok++;
      else dropped++;
      host.dev.flush();
      await new Promise((r) => setImmediate(r));
    }
    expect(ok).toBe(64); // the ring's worth, then nothing
    expect(dropped).toBe(136);
    expect(host.dev.counters().rx_drop_no_desc).toBe(136);
    await vm.resumeRx();
    await until(() => vm!.counter('rx_packets') === 64, 'the 64 buffered frames');
    await until(() => host!.send(f), 'a buffer to come back');
    await until(() => vm!.counter('rx_packets') === 65, 'delivery after resume');
    expect(host.dev.counters().rx_drop_malformed).toBe(0);
  });

  for (const packed of [false, true])
  it(`a reset mid-traffic: the guest comes back and receives again (${packed ? 'packed' : 'split'} ring)`, async () => {
    host = new DeviceHost();
    vm = await host.startVm({ program: 'examples/vm/count-drop', driver: { packed } });
    const f = new Uint8Array(64);
    const pump = async (n: number) => {
      let ok = 0;
      for (let i = 0; i < n; i++) {
        if (host!.dev.transmit(f, 0, 64, 0)) ok++;
        if (i % 8 === 7) {
          host!.dev.flush();
          await new Promise((r) => setImmediate(r));
        }
      }
      host!.dev.flush();
      return ok;
    };
    const before = await pump(500);
    const resetting = vm.reset();
    const during = await pump(500);
    await resetting;
    await until(() => host!.dev.describe().live === true, 'device live again');
    // Let the guest finish what it had (its count stops moving), then count anew.
    let seenBefore = -1;
    while (seenBefore !== vm.counter('rx_packets')) {
      seenBefore = vm.counter('rx_packets');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(seenBefore).toBeLessThanOrEqual(before + during);
    const after = await pump(200);
    expect(after).toBeGreaterThan(0);
    await until(() => vm!.counter('rx_packets') === seenBefore + after, 'frames after the reset');
    expect(host.dev.counters().resets).toBeGreaterThanOrEqual(1);
    expect(vm.counter('resets')).toBe(1);
  });

  for (const packed of [false, true])
  it(`150,000 frames with back-pressure: every one arrives, across the 16-bit index wrap (${packed ? 'packed' : 'split'} ring, EVENT_IDX)`, async () => {
    host = new DeviceHost();
    vm = await host.startVm({ program: 'examples/vm/count-drop', driver: { queueSize: 256, packed } });
    const f = new Uint8Array(64).fill(0xff, 0, 6);
    const total = 150_000;
    let sent = 0;
    while (sent < total) {
      let burst = 0;
      while (burst < 64 && sent < total && host.dev.transmit(f, 0, 64, 0)) {
        sent++;
        burst++;
      }
      host.dev.flush();
      if (burst < 64) await new Promise((r) => setImmediate(r)); // the guest has the ring: let it drain
    }
    await until(() => vm!.counter('rx_packets') === total, 'every frame in the guest', 30_000);
    // Drops are allowed only as back-pressure (ring empty), never as anything else.
    const c = host.dev.counters();
    expect([c.rx_drop_malformed, c.rx_drop_too_big, c.rx_drop_not_ready]).toEqual([0, 0, 0]);
    expect(c.interrupts).toBeGreaterThan(0);
    expect(c.interrupts).toBeLessThan(total / 4); // EVENT_IDX suppresses most interrupts
  });
});
