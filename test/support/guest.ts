/**
 * Builds a tiny Linux guest for QEMU from Debian packages: Debian's cloud kernel and a
 * busybox initramfs whose /init brings up eth0 from the kernel command line, pings a peer
 * (also with full-size frames), optionally sends or receives a TCP transfer with busybox
 * nc and prints its SHA-256, prints marker lines and powers off.
 *
 * Nothing is installed on the host: `apt-get download` fetches the .debs into the cache
 * folder and `dpkg-deb -x` unpacks them there. The result is cached in .cache/guest/
 * (gitignored), keyed by the kernel version and /init, so only the first run pays the download.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync, chmodSync, copyFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../lib/worker-url.js';

export interface Guest {
  kernel: string;
  initrd: string;
}

/** Modules virtio-net needs, in load order (the cloud kernel builds them as modules). */
const MODULES = [
  'drivers/virtio/virtio_ring.ko',
  'drivers/virtio/virtio.ko',
  'drivers/virtio/virtio_pci_modern_dev.ko',
  'drivers/virtio/virtio_pci_legacy_dev.ko',
  'drivers/virtio/virtio_pci.ko',
  'net/core/failover.ko',
  'drivers/net/net_failover.ko',
  'drivers/net/virtio_net.ko',
];

/** Markers /init prints; tests wait for them on the serial console. */
export const MARK_UP = 'XSWITCH-GUEST-UP';
export const MARK_OK = 'XSWITCH-PING-OK';
export const MARK_FAIL = 'XSWITCH-PING-FAIL';
/** `XSWITCH-BIGPING N packets received`: 3 pings of 1472 bytes (1514-byte frames). */
export const MARK_BIG = 'XSWITCH-BIGPING';
/** `XSWITCH-TCP-TX <bytes> <sha256>` / `XSWITCH-TCP-RX <bytes> <sha256>`: what the client sent, what the server got. */
export const MARK_TCP_TX = 'XSWITCH-TCP-TX';
export const MARK_TCP_RX = 'XSWITCH-TCP-RX';
/** With xs.recv=PORT: printed before listening, and after the transfer as `XSWITCH-RECV <bytes> <sha256>`. */
export const MARK_LISTEN = 'XSWITCH-LISTEN';
export const MARK_RECV = 'XSWITCH-RECV';
/** TCP transfer (xs.tcp=send:N / recv): the sender's own hash, the receiver's, echoed back. */
export const MARK_TX_SHA = 'XSWITCH-TX-SHA256';
export const MARK_RX_SHA = 'XSWITCH-RX-SHA256';
export const MARK_ECHO_SHA = 'XSWITCH-ECHO-SHA256';

/*
 * Kernel command line: xs.ip=A.B.C.D/N xs.peer=A.B.C.D [xs.linger=S] [xs.recv=PORT]
 * [xs.tcp=recv|send:N|ping|flood|server|client] [xs.bytes=N].
 * The guest retries a one-shot ping for up to 90 s (the peer may still be booting), then
 * lingers so the peer can finish pinging it, then powers off.
 * With xs.tcp, after the pings: `recv` serves one TCP connection on port 5001 whose bytes
 * go through sha256sum (printed on the console and sent back); `send:N` sends N × 64 KiB
 * of random bytes to the peer's port 5001 (retrying until it listens), printing its own
 * hash and the one the receiver sent back; `ping` pings the peer twice a second for the
 * linger time (a test watches the replies keep coming); `flood` sends ICMP echo requests
 * to multicast groups (no ARP, no answer) from four pings as fast as busybox allows, for
 * the vhost-user bench (xs.peer = its own address, so the first ping passes on lo).
 * Busybox nc shuts its sending half down at the end of its input, so the receiver sees
 * the end of the stream.
 * With xs.recv it first accepts one TCP connection on PORT (busybox nc) and prints the
 * byte count and busybox sha256sum of what arrived.
 * Every guest also pings 3 times with full-size frames (1472-byte payloads, 1514-byte
 * frames) after the first reply and prints the count (MARK_BIG).
 * `server` takes one connection on port 5001 (stdin stays the console, so nc does not stop
 * at an EOF of its own) and prints what arrived (MARK_TCP_RX); `client` sends xs.bytes random
 * bytes, retrying until the server listens (MARK_TCP_TX).
 */
const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in ${MODULES.map((m) => '/lib/modules/' + path.basename(m)).join(' ')}; do
  [ -f "$m" ] && insmod "$m"
done
for a in $(cat /proc/cmdline); do
  case "$a" in
    xs.ip=*) IP="\${a#xs.ip=}" ;;
    xs.peer=*) PEER="\${a#xs.peer=}" ;;
    xs.linger=*) LINGER="\${a#xs.linger=}" ;;
    xs.tcp=*) TCP="\${a#xs.tcp=}" ;;
    xs.recv=*) RECV="\${a#xs.recv=}" ;;
    xs.bytes=*) BYTES="\${a#xs.bytes=}" ;;
  esac
done
ip link set lo up
ip link set eth0 up
ip addr add "$IP" dev eth0
echo "${MARK_UP} $IP"
i=0
while [ $i -lt 90 ]; do
  if ping -c 1 -W 1 "$PEER" > /tmp/ping.out 2>&1; then
    echo "${MARK_OK} $(grep -o 'time=[0-9.]* ms' /tmp/ping.out)"
    ping -c 3 -i 0.2 "$PEER"
    echo "${MARK_BIG} $(ping -c 3 -i 0.2 -s 1472 "$PEER" 2>&1 | grep -o '[0-9]* packets received')"
    if [ -n "$RECV" ]; then
      echo "${MARK_LISTEN} $RECV"
      nc -l -p "$RECV" > /tmp/recv
      echo "${MARK_RECV} $(wc -c < /tmp/recv) $(sha256sum /tmp/recv)"
    fi
    case "$TCP" in
      recv) nc -l -p 5001 -e /bin/rx-sha ;;
      ping) ping -i 0.5 -w "\${LINGER:-20}" "$PEER" ;;
      flood)
        ip route add 224.0.0.0/4 dev eth0
        for k in 1 2 3 4; do ping -q -i 0.001 -s 18 "239.1.1.$k" > /dev/null 2>&1 & done ;;
      send:*)
        dd if=/dev/urandom of=/tmp/tx bs=65536 count="\${TCP#send:}" 2>/dev/null
        echo "${MARK_TX_SHA} $(sha256sum < /tmp/tx | cut -d' ' -f1)"
        j=0
        while [ $j -lt 60 ]; do
          H="$(nc "$PEER" 5001 < /tmp/tx)" && [ -n "$H" ] && break
          j=$((j + 1)); sleep 1
        done
        echo "${MARK_ECHO_SHA} $H" ;;
      server)
        nc -l -p 5001 > /tmp/rx
        echo "${MARK_TCP_RX} $(wc -c < /tmp/rx) $(sha256sum /tmp/rx | cut -d ' ' -f 1)" ;;
      client)
        head -c "$BYTES" /dev/urandom > /tmp/tx
        echo "${MARK_TCP_TX} $(wc -c < /tmp/tx) $(sha256sum /tmp/tx | cut -d ' ' -f 1)"
        k=0
        until nc "$PEER" 5001 < /tmp/tx; do
          k=$((k + 1)); [ $k -ge 60 ] && break; sleep 1
        done ;;
    esac
    sleep "\${LINGER:-20}"
    poweroff -f
  fi
  i=$((i + 1))
done
echo "${MARK_FAIL}"
ip -s link show eth0
poweroff -f
`;

/** nc -e program of the receiving guest: stdin and stdout are the TCP connection. */
const RX_SHA = `#!/bin/busybox sh
H="$(sha256sum | cut -d' ' -f1)"
echo "${MARK_RX_SHA} $H" > /dev/console
echo "$H"
`;


function sh(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 << 20 });
}

/** The versioned cloud kernel package the meta-package points at (e.g. linux-image-6.1.0-56-cloud-amd64). */
function kernelPackage(): string {
  let out = '';
  try {
    out = sh('apt-cache', ['depends', 'linux-image-cloud-amd64']);
  } catch {
    // No package lists yet (a fresh image): fetch them once, as root.
    if (process.getuid?.() === 0) sh('apt-get', ['update', '-qq']);
    out = sh('apt-cache', ['depends', 'linux-image-cloud-amd64']);
  }
  const m = /Depends:\s*(linux-image-[0-9][^\s]*-cloud-amd64)/.exec(out);
  if (!m) throw new Error(`cannot find the cloud kernel package in apt-cache: ${out.trim() || 'no output'} (run apt-get update)`);
  return m[1];
}

/** Builds (or reuses) the guest in `cacheDir`; throws with the failing step on error. */
export function buildGuest(cacheDir = path.join(projectRoot(), '.cache', 'guest')): Guest {
  const kpkg = kernelPackage();
  // Keyed by the kernel and by /init (and the nc -e program), so a changed /init is never served from an old cache.
  const dir = path.join(cacheDir, `${kpkg}-${createHash('sha256').update(INIT + RX_SHA).digest('hex').slice(0, 12)}`);
  const kernel = path.join(dir, 'vmlinuz');
  const initrd = path.join(dir, 'initrd.gz');
  if (existsSync(kernel) && existsSync(initrd)) return { kernel, initrd };

  const work = path.join(cacheDir, `build-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    sh('apt-get', ['download', kpkg, 'busybox-static'], work);
    const debs = readdirSync(work).filter((f) => f.endsWith('.deb'));
    const kdeb = debs.find((f) => f.startsWith(kpkg + '_'));
    const bdeb = debs.find((f) => f.startsWith('busybox-static_'));
    if (!kdeb || !bdeb) throw new Error(`apt-get download gave ${debs.join(', ') || 'nothing'}`);
    const x = path.join(work, 'x');
    sh('dpkg-deb', ['-x', kdeb, x], work);
    sh('dpkg-deb', ['-x', bdeb, x], work);

    const root = path.join(work, 'root');
    for (const d of ['bin', 'proc', 'sys', 'dev', 'tmp', 'lib/modules']) mkdirSync(path.join(root, d), { recursive: true });
    copyFileSync(path.join(x, 'bin', 'busybox'), path.join(root, 'bin', 'busybox'));
    chmodSync(path.join(root, 'bin', 'busybox'), 0o755);
    const modRoot = path.join(x, 'lib', 'modules');
    const [kver] = readdirSync(modRoot);
    const builtinFile = path.join(modRoot, kver, 'modules.builtin');
    const builtin = existsSync(builtinFile) ? readFileSync(builtinFile, 'utf8') : '';
    for (const m of MODULES) {
      const base = path.join(modRoot, kver, 'kernel', m);
      // Bookworm ships plain .ko; later kernels compress them (busybox insmod cannot read .xz).
      if (existsSync(base)) copyFileSync(base, path.join(root, 'lib', 'modules', path.basename(m)));
      else if (existsSync(base + '.xz')) {
        execFileSync('sh', ['-c', `xz -dc '${base}.xz' > '${path.join(root, 'lib', 'modules', path.basename(m))}'`]);
      } else if (!builtin.includes(m)) throw new Error(`module ${m} is neither in ${kpkg} nor built in`);
    }
    writeFileSync(path.join(root, 'init'), INIT);
    chmodSync(path.join(root, 'init'), 0o755);
    writeFileSync(path.join(root, 'bin', 'rx-sha'), RX_SHA);
    chmodSync(path.join(root, 'bin', 'rx-sha'), 0o755);
    execFileSync('sh', ['-c', `find . | cpio -o -H newc --quiet | gzip -1 > '${path.join(work, 'initrd.gz')}'`], { cwd: root });

    const vmlinuz = readdirSync(path.join(x, 'boot')).find((f) => f.startsWith('vmlinuz-'));
    if (!vmlinuz) throw new Error(`no vmlinuz in ${kdeb}`);
    mkdirSync(dir, { recursive: true });
    copyFileSync(path.join(x, 'boot', vmlinuz), path.join(work, 'vmlinuz'));
    // Rename last so a half-built guest is never taken for a cached one.
    renameSync(path.join(work, 'vmlinuz'), kernel);
    renameSync(path.join(work, 'initrd.gz'), initrd);
    return { kernel, initrd };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
