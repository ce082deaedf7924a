/** Namespace hosts at the far end of a veth whose near end a switch port attaches to. */
import { type Netns, ip } from './netns.js';

/** A veth from the switch's namespace (end `sw`) to eth0 in namespace `host`, addressed and up, offloads off. */
export function vethHost(ns: Netns, sw: string, host: string, addr: string): void {
  ip('link', 'add', sw, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.name(host));
  // The switch's end carries no address: no IPv6 autoconfiguration chatter from it.
  ns.execRoot('sysctl', ['-qw', `net.ipv6.conf.${sw}.disable_ipv6=1`]);
  ip('link', 'set', sw, 'up');
  ip('-n', ns.name(host), 'addr', 'add', addr, 'dev', 'eth0');
  ip('-n', ns.name(host), 'link', 'set', 'eth0', 'up');
  // The switch does no GSO or checksum offload yet: hosts send whole, checksummed packets (PEERS.md).
  ns.exec(host, 'ethtool', ['-K', 'eth0', 'tx', 'off', 'tso', 'off', 'gso', 'off']);
}
