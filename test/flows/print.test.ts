import { describe, expect, it } from 'vitest';
import { SteeringControl } from '../../flows/control.js';

// Golden text, as ethtool prints these rules (rxclass.c rxclass_print_nfc_rule).
describe('ethtool -n output', () => {
  const c = new SteeringControl('eth0', 4);
  c.run('-N flow-type tcp4 src-ip 192.168.1.1 dst-port 80 m 0xff action 2 loc 5');
  c.run('-N flow-type udp6 dst-ip 2001:db8::1 m ::ffff src-port 53 action -1 loc 1');
  c.run('-N flow-type esp4 spi 0x80000001 vlan 0x123 m 0xf000 action -2 loc 9');
  c.run('-N flow-type ether src 00:1b:21:aa:bb:cc proto 0x88cc dst ff:ff:ff:ff:ff:ff m 00:00:00:00:00:ff action 3 loc 0');
  c.run('-N flow-type ip4 l4proto 1 l4data 0x08000000 m 0x00ffffff dst-mac 02:00:00:00:00:01 action 1 loc 7');
  c.run('-X context new equal 2');
  c.run('-N flow-type ip6 src-ip ::ffff:10.0.0.1 tclass 0x20 context 1 action 2 loc 3');

  it('lists every rule in location order', () => {
    expect(c.showRules()).toBe(`4 RX rings available
Total 6 rules

Filter: 0
	Flow Type: Raw Ethernet
	Src MAC addr: 00:1B:21:AA:BB:CC mask: 00:00:00:00:00:00
	Dest MAC addr: FF:FF:FF:FF:FF:FF mask: 00:00:00:00:00:FF
	Ethertype: 0x88CC mask: 0x0
	Action: Direct to queue 3

Filter: 1
	Rule Type: UDP over IPv6
	Src IP addr: :: mask: ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff
	Dest IP addr: 2001:db8::1 mask: ::ffff
	Traffic Class: 0x0 mask: 0xff
	Src port: 53 mask: 0x0
	Dest port: 0 mask: 0xffff
	Action: Drop

Filter: 3
	Rule Type: Raw IPv6
	Src IP addr: ::ffff:10.0.0.1 mask: ::
	Dest IP addr: :: mask: ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff
	Traffic Class: 0x20 mask: 0x0
	Protocol: 0 mask: 0xff
	L4 bytes: 0x0 mask: 0xffffffff
	RSS Context ID: 1
	Action: Direct to queue 2

Filter: 5
	Rule Type: TCP over IPv4
	Src IP addr: 192.168.1.1 mask: 0.0.0.0
	Dest IP addr: 0.0.0.0 mask: 255.255.255.255
	TOS: 0x0 mask: 0xff
	Src port: 0 mask: 0xffff
	Dest port: 80 mask: 0xff
	Action: Direct to queue 2

Filter: 7
	Rule Type: Raw IPv4
	Src IP addr: 0.0.0.0 mask: 255.255.255.255
	Dest IP addr: 0.0.0.0 mask: 255.255.255.255
	TOS: 0x0 mask: 0xff
	Protocol: 1 mask: 0x0
	L4 bytes: 0x8000000 mask: 0xffffff
	Dest MAC addr: 02:00:00:00:00:01 mask: FF:FF:FF:FF:FF:FF
	Action: Direct to queue 1

Filter: 9
	Rule Type: IPSEC ESP over IPv4
	Src IP addr: 0.0.0.0 mask: 255.255.255.255
	Dest IP addr: 0.0.0.0 mask: 255.255.255.255
	TOS: 0x0 mask: 0xff
	SPI: -2147483647 mask: 0x0
	VLAN EtherType: 0x0 mask: 0xffff
	VLAN: 0x123 mask: 0xf000
	User-defined: 0x0 mask: 0xffffffffffffffff
	Action: Wake-on-LAN

`);
  });

  it('shows one rule', () => {
    expect(c.showRule(5).split('\n')[0]).toBe('Filter: 5');
    expect(() => c.showRule(6)).toThrow('rxclass: Cannot get RX class rule: No such file or directory');
  });
});

describe('ethtool -x / -l / rx-flow-hash output', () => {
  it('-x prints the table, key and hash function', () => {
    const c = new SteeringControl('wan0', 4);
    c.run('-X weight 1 1 2');
    const rows: string[] = [];
    const ind = c.state.contexts.get(0)!.indir;
    for (let i = 0; i < 128; i += 8) rows.push(`${String(i).padStart(5)}: ` + ind.slice(i, i + 8).map((q) => ` ${String(q).padStart(5)}`).join(''));
    expect(ind.slice(0, 8)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(c.showRxfh()).toBe(`RX flow hash indirection table for wan0 with 4 RX ring(s):
${rows.join('\n')}
RSS hash key:
6d:5a:56:da:25:5b:0e:c2:41:67:25:3d:43:a3:8f:b0:d0:ca:2b:cb:ae:7b:30:b4:77:cb:2d:a3:80:30:f2:0c:6a:42:b7:3b:be:ac:01:fa
RSS hash function:
    toeplitz: on
    xor: off
    crc32: off
`);
    expect(c.showRxfh().split('\n')[1]).toBe('    0:      0     0     0     0     0     0     0     0');
    expect(c.showRxfh().split('\n')[16]).toBe('  120:      2     2     2     2     2     2     2     2');
  });

  it('-l prints channels', () => {
    const c = new SteeringControl('wan0', 8);
    c.run('-L combined 3');
    expect(c.showChannels()).toBe(
      'Channel parameters for wan0:\nPre-set maximums:\nRX:\t\tn/a\nTX:\t\tn/a\nOther:\t\tn/a\nCombined:\t8\n' +
      'Current hardware settings:\nRX:\t\tn/a\nTX:\t\tn/a\nOther:\t\tn/a\nCombined:\t3\n\n');
  });

  it('-n rx-flow-hash prints the fields', () => {
    const c = new SteeringControl('wan0', 2);
    expect(c.showRxFlowHash('tcp4')).toBe('TCP over IPV4 flows use these fields for computing Hash flow key:\nIP SA\nIP DA\nL4 bytes 0 & 1 [TCP/UDP src port]\nL4 bytes 2 & 3 [TCP/UDP dst port]\n\n');
    c.run('-N rx-flow-hash esp4 r');
    expect(c.showRxFlowHash('ah4')).toBe('IPSEC AH/ESP over IPV4 flows - All matching flows discarded on RX\n');
  });
});
