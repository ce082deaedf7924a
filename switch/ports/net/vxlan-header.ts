/**
 * The VXLAN header (RFC 7348): 8 bytes before the inner Ethernet frame.
 *
 *   flags (I = 0x08) │ reserved (3) │ VNI (3) │ reserved (1)
 */
export const VXLAN_PORT = 4789;
export const VXLAN_HLEN = 8;
/** Bit 3 of the first byte: "the VNI is valid". */
export const VXLAN_I_FLAG = 0x08;
/** Inner L3 MTU by default: a 1500-byte underlay less 50 bytes of encapsulation. */
export const DEFAULT_VXLAN_MTU = 1450;

/** Writes the 8-byte VXLAN header for `vni` at b[o]. */
export function writeVxlanHeader(b: Uint8Array, o: number, vni: number): void {
  b[o] = VXLAN_I_FLAG;
  b[o + 1] = 0;
  b[o + 2] = 0;
  b[o + 3] = 0;
  b[o + 4] = (vni >>> 16) & 0xff;
  b[o + 5] = (vni >>> 8) & 0xff;
  b[o + 6] = vni & 0xff;
  b[o + 7] = 0;
}
