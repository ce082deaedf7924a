/**
 * MTU as Linux means it: the largest L3 packet. A port with MTU m carries Ethernet frames
 * (no FCS) of up to m + 14 bytes, or m + 18 when the frame carries one 802.1Q/802.1ad tag,
 * and never more than the switch's frame area holds (frameSize − headroom).
 */
export const ETH_HLEN = 14;
export const VLAN_HLEN = 4;
export const DEFAULT_MTU = 1500;
export const MIN_MTU = 68;
export const MAX_MTU = 65535;

/** Message for a bad `mtu` option, or null. */
export function checkMtu(mtu: unknown): string | null {
  if (mtu === undefined) return null;
  if (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU) {
    return `mtu: ${String(mtu)} is not an integer from ${MIN_MTU} to ${MAX_MTU}`;
  }
  return null;
}

/** Throws when frames of this MTU (with one VLAN tag) cannot fit a frame of the switch. */
export function checkMtuFits(mtu: number, maxFrameLength: number, frameSize: number): void {
  if (mtu + ETH_HLEN + VLAN_HLEN > maxFrameLength) {
    throw new Error(
      `mtu ${mtu} needs frames of up to ${mtu + ETH_HLEN + VLAN_HLEN} bytes but a frame of ${frameSize} bytes ` +
        `holds ${maxFrameLength} after the headroom: lower mtu to ${maxFrameLength - ETH_HLEN - VLAN_HLEN} or raise frameSize`,
    );
  }
}

/** True when the frame at b[o, o + len) is larger than MTU `mtu` allows. Does not allocate. */
export function overMtu(b: Uint8Array, o: number, len: number, mtu: number): boolean {
  if (len <= mtu + ETH_HLEN) return false;
  if (len > mtu + ETH_HLEN + VLAN_HLEN) return true;
  const type = (b[o + 12] << 8) | b[o + 13];
  return type !== 0x8100 && type !== 0x88a8;
}
