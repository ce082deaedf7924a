/** Linux ABI numbers the native layer and its callers use (x86-64 / generic, from the uapi headers). */

export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_PACKET = 17;

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;

export const O_RDWR = 2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const F_GETFL = 3;
export const F_SETFL = 4;

export const SOL_SOCKET = 1;
export const SO_RCVBUF = 8;
export const SO_SNDBUF = 7;
export const SO_RCVBUFFORCE = 33;
export const SO_SNDBUFFORCE = 32;
export const SO_ERROR = 4;
export const SO_REUSEPORT = 15;
export const SCM_RIGHTS = 1;

export const MSG_DONTWAIT = 0x40;
export const MSG_TRUNC = 0x20;
export const MSG_CTRUNC = 0x08;
export const MSG_WAITFORONE = 0x10000;

export const POLLIN = 0x001;
export const POLLOUT = 0x004;
export const POLLERR = 0x008;
export const POLLHUP = 0x010;
export const POLLNVAL = 0x020;

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
export const MAP_LOCKED = 0x2000;
export const MAP_POPULATE = 0x8000;

export const MFD_CLOEXEC = 1;
export const MFD_ALLOW_SEALING = 2;

export const EFD_NONBLOCK = 0o4000;
export const EFD_CLOEXEC = 0o2000000;
export const EFD_SEMAPHORE = 1;

// errno numbers the data path compares against (negative returns of the non-throwing calls).
export const EINTR = 4;
export const EAGAIN = 11;
export const ENOBUFS = 105;
export const ENETDOWN = 100;
export const ENXIO = 6;
export const EMSGSIZE = 90;

// <linux/if_ether.h>
export const ETH_P_ALL = 0x0003;

// <linux/if_packet.h>
export const SOL_PACKET = 263;
export const PACKET_ADD_MEMBERSHIP = 1;
export const PACKET_DROP_MEMBERSHIP = 2;
export const PACKET_RX_RING = 5;
export const PACKET_STATISTICS = 6;
export const PACKET_VERSION = 10;
export const PACKET_RESERVE = 12;
export const PACKET_TX_RING = 13;
export const PACKET_QDISC_BYPASS = 20;
export const PACKET_IGNORE_OUTGOING = 23;
export const PACKET_FANOUT = 18;
export const PACKET_FANOUT_HASH = 0;
export const PACKET_FANOUT_CPU = 2;
export const PACKET_MR_PROMISC = 1;
export const TPACKET_V2 = 1;
export const TPACKET_V3 = 2;
export const TP_STATUS_KERNEL = 0;
export const TP_STATUS_USER = 1;
export const TP_STATUS_VLAN_VALID = 0x10;
export const TP_STATUS_VLAN_TPID_VALID = 0x40;
export const TP_FT_REQ_FILL_RXHASH = 1;

// <linux/if_tun.h> ioctls (_IOW('T', n, …))
export const TUNSETIFF = 0x400454ca;
export const TUNSETPERSIST = 0x400454cb;
export const TUNSETOFFLOAD = 0x400454d0;
export const TUNSETVNETHDRSZ = 0x400454d8;
export const IFF_TUN = 0x0001;
export const IFF_TAP = 0x0002;
export const IFF_NO_PI = 0x1000;
export const IFF_VNET_HDR = 0x4000;
/** TUNSETOFFLOAD flags (linux/if_tun.h): what the tap's reader takes from the kernel. */
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_TSO_ECN = 0x08;
/** UDP segmentation offload (Linux 6.2+): UDP_L4 super-frames from UDP_SEGMENT sockets. */
export const TUN_F_USO4 = 0x20;
export const TUN_F_USO6 = 0x40;
export const IFNAMSIZ = 16;

// <linux/sockios.h>
export const SIOCGIFFLAGS = 0x8913;
export const SIOCSIFFLAGS = 0x8914;
export const SIOCGIFMTU = 0x8921;
export const SIOCSIFMTU = 0x8922;
export const IFF_UP = 0x1;
export const IFF_RUNNING = 0x40;
