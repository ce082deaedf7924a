/** The piscina reference's task: the drop program's work over one batch of packets. */
export default function dropBatch({ batch, size }: { batch: Uint8Array; size: number }): number {
  let sink = 0;
  let n = 0;
  for (let o = 0; o + size <= batch.length; o += size) {
    sink ^= (batch[o + 12] << 8) | batch[o + 13];
    n++;
  }
  return n + (sink & 0);
}
