/**
 * The native I/O layer: the Linux syscalls Node lacks (AF_PACKET, tap ioctls, mmap, memfd,
 * eventfd, SCM_RIGHTS, poll, recvmmsg/sendmmsg), through koffi. Syscalls only, no policy.
 * Setup calls throw NativeError (its `code` is the errno name: EPERM, ENODEV…); data-path
 * calls return −errno so that an empty queue allocates nothing.
 */
export { available, whyUnavailable, requireNative } from './libc.js';
export { NativeError, errnoName } from './errors.js';
export * as K from './constants.js';
export { open, close, setNonBlocking, read, write, readAt, writeAt } from './fd.js';
export { socket, socketpair, bind, connect, listen, setsockopt, setsockoptInt, getsockopt, getsockoptInt, ioctl, ifNameToIndex, getsockname, send } from './socket.js';
export { addressOf, putAddress, mmap, munmap, memfdCreate, type Mapping } from './memory.js';
export { eventfdCreate, eventfdRead, eventfdWrite } from './eventfd.js';
export { PollSet } from './poll.js';
export { MmsgBatch, NAME_SIZE } from './mmsg.js';
export { listenUnix, accept, connectUnix, recvWithFds, sendWithFds, MAX_FDS, type Received } from './unix.js';
export { packetSocket, setReserve, bindPacket, addPromiscuous, ignoreOutgoing, packetStatistics, joinFanout, takeSocketError, setupRxRing, RxRingV3, setupRxRingV2, RxRingV2, type PacketStats, type RingGeometry, type RingGeometryV2 } from './packet.js';
export { openTun, setVnetHeaderSize, setOffload, setPersist } from './tun.js';
export { setInterfaceMtu, setInterfaceUp, getInterfaceMtu, getInterfaceFlags } from './netdev.js';
export { reserveSpan, mapIntoSpan, releaseSpan, type Span } from './span.js';
export { threadCpuNs } from './cputime.js';
