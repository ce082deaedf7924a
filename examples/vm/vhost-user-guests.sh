#!/bin/sh
# Two QEMU guests (TCG) on the vhost-user ports of examples/vm/vhost-user.yaml: each pings
# the other, prints XSWITCH-PING-OK and powers off. The kernel and initramfs are the
# test guests (test/support/guest.ts builds them into .cache/guest/ on the first run of
# `npx vitest run test/integration/peers/vhost-user.test.ts`), or set KERNEL and INITRD.
set -eu
cd "$(dirname "$0")/../.."
G=$(ls -d .cache/guest/*/ 2>/dev/null | tail -n 1)
KERNEL=${KERNEL:-${G}vmlinuz}
INITRD=${INITRD:-${G}initrd.gz}
[ -f "$KERNEL" ] && [ -f "$INITRD" ] || { echo "no guest kernel/initramfs: set KERNEL and INITRD" >&2; exit 1; }
guest() { # name mac ip peer extra-netdev extra-device smp
  qemu-system-x86_64 -accel tcg -m 128 -smp "$7" -nographic -no-reboot -nodefaults -serial stdio \
    -kernel "$KERNEL" -initrd "$INITRD" \
    -append "console=ttyS0 quiet panic=-1 xs.ip=$3/24 xs.peer=$4 xs.linger=5" \
    -object memory-backend-memfd,id=mem,size=128M,share=on -numa node,memdev=mem \
    -chardev socket,id=c0,path=/tmp/xswitch-$1.sock,reconnect=1 \
    -netdev "vhost-user,id=n0,chardev=c0$5" \
    -device "virtio-net-pci,netdev=n0,mac=$2,vectors=0,romfile=$6" | sed "s/^/[$1] /"
}
guest vm1 52:54:00:00:00:11 192.0.2.11 192.0.2.12 "" "" 1 &
guest vm2 52:54:00:00:00:12 192.0.2.12 192.0.2.11 ",queues=2" ",mq=on" 2 &
wait
