/**
 * The one place that loads the FFI (koffi) and declares the libc functions the native layer
 * calls. Loaded lazily, once per thread (each worker has its own module instance and binds
 * its own functions; file descriptors and mappings are process-wide).
 *
 * When koffi cannot load (no binary for this platform, a runtime that forbids it), nothing
 * throws at import: available() says false, whyUnavailable() says why, and the first call
 * that needs libc throws that reason. Only the port types that need the layer refuse to start.
 */
import { createRequire } from 'node:module';

export type Koffi = typeof import('koffi');
type Fn = ((...args: any[]) => any) & { async: (...args: any[]) => void };

export interface Libc {
  koffi: Koffi;
  errno(): number;
  strerror(errnum: number): string;
  close: Fn; read: Fn; write: Fn; open: Fn; fcntl: Fn; ioctl: Fn; ioctl_int: Fn;
  socket: Fn; socketpair: Fn; bind: Fn; listen: Fn; accept4: Fn; connect: Fn;
  setsockopt: Fn; getsockopt: Fn; getsockname: Fn; send: Fn;
  if_nametoindex: Fn; poll: Fn; mmap: Fn; munmap_at: Fn;
  read_at: Fn; write_at: Fn; poll_at: Fn; recvmsg_at: Fn; sendmsg_at: Fn; recvmmsg_at: Fn; sendmmsg_at: Fn; memfd_create: Fn; ftruncate: Fn; eventfd: Fn;
}

let libc: Libc | null = null;
let failure: string | null = null;

function load(): Libc {
  const koffi = createRequire(import.meta.url)('koffi') as Koffi;
  const lib = koffi.load('libc.so.6');
  // Pointers to structs and buffers are passed as Uint8Arrays ('void *'); sizes are 64-bit.
  const f = (decl: string) => lib.func(decl) as unknown as Fn;
  const strerror = f('const char *strerror(int errnum)');
  return {
    koffi,
    errno: () => koffi.errno(),
    strerror: (n: number) => strerror(n) as string,
    close: f('int close(int fd)'),
    read: f('intptr_t read(int fd, void *buf, size_t count)'),
    write: f('intptr_t write(int fd, void *buf, size_t count)'),
    open: f('int open(const char *path, int flags, uint32_t mode)'),
    // fcntl and ioctl are variadic in C; declared here with the one argument form used (int or pointer).
    fcntl: f('int fcntl(int fd, int cmd, long arg)'),
    ioctl: f('int ioctl(int fd, unsigned long request, void *arg)'),
    ioctl_int: f('int ioctl(int fd, unsigned long request, unsigned long arg)'),
    socket: f('int socket(int domain, int type, int protocol)'),
    socketpair: f('int socketpair(int domain, int type, int protocol, void *sv)'),
    bind: f('int bind(int fd, void *addr, uint32_t len)'),
    listen: f('int listen(int fd, int backlog)'),
    accept4: f('int accept4(int fd, void *addr, void *len, int flags)'),
    connect: f('int connect(int fd, void *addr, uint32_t len)'),
    setsockopt: f('int setsockopt(int fd, int level, int name, void *value, uint32_t len)'),
    getsockopt: f('int getsockopt(int fd, int level, int name, void *value, void *len)'),
    getsockname: f('int getsockname(int fd, void *addr, void *len)'),
    send: f('intptr_t send(int fd, void *buf, size_t len, int flags)'),
    if_nametoindex: f('uint32_t if_nametoindex(const char *name)'),
    poll: f('int poll(void *fds, uint64_t nfds, int timeout)'),
    mmap: f('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)'),
    munmap_at: f('int munmap(uintptr_t addr, size_t length)'),
    // The same calls taking a raw address: the data path passes frame addresses (a base from
    // addressOf() plus an offset) so that no subarray is made per packet.
    read_at: f('intptr_t read(int fd, uintptr_t buf, size_t count)'),
    write_at: f('intptr_t write(int fd, uintptr_t buf, size_t count)'),
    poll_at: f('int poll(uintptr_t fds, uint64_t nfds, int timeout)'),
    recvmsg_at: f('intptr_t recvmsg(int fd, uintptr_t msg, int flags)'),
    sendmsg_at: f('intptr_t sendmsg(int fd, uintptr_t msg, int flags)'),
    recvmmsg_at: f('int recvmmsg(int fd, uintptr_t msgvec, uint32_t vlen, int flags, void *timeout)'),
    sendmmsg_at: f('int sendmmsg(int fd, uintptr_t msgvec, uint32_t vlen, int flags)'),
    memfd_create: f('int memfd_create(const char *name, uint32_t flags)'),
    ftruncate: f('int ftruncate(int fd, int64_t length)'),
    eventfd: f('int eventfd(uint32_t initval, int flags)'),
  };
}

function tryLoad(): Libc | null {
  if (libc !== null || failure !== null) return libc;
  if (process.platform !== 'linux') {
    failure = `the native I/O layer needs Linux (this is ${process.platform})`;
    return null;
  }
  try {
    libc = load();
  } catch (e) {
    failure = `the native I/O layer (koffi) could not load: ${(e as Error).message}`;
  }
  return libc;
}

/** Whether the native layer works in this process. */
export function available(): boolean {
  return tryLoad() !== null;
}

/** Why the native layer is unavailable, or null when it is available. */
export function whyUnavailable(): string | null {
  tryLoad();
  return failure;
}

/** The bound libc functions; throws the load failure when the layer is unavailable. */
export function c(): Libc {
  const l = tryLoad();
  if (l === null) throw new Error(failure!);
  return l;
}

/** Throws a clear error for `what` (a port type) when the layer is unavailable. */
export function requireNative(what: string): void {
  const why = whyUnavailable();
  if (why !== null) throw new Error(`${what} needs the native I/O layer, which is unavailable here: ${why}`);
}
