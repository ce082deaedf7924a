/**
 * Where a value sits in the YAML source: the bridge between a validation issue's path
 * (['ports', 1, 'write']) and a line:column the user can jump to.
 *
 * The `yaml` package keeps a source range on every node; a LineCounter turns offsets into
 * 1-based line/column. A path that does not exist (a missing key) resolves to the nearest
 * ancestor that does, so "missing key" points at the map that lacks it.
 */
import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';

export type Path = readonly (string | number)[];

export interface Position {
  line: number;
  column: number;
}

export class SourceMap {
  constructor(
    readonly doc: Document,
    readonly lines: LineCounter,
  ) {}

  /** Position of the value at `path`, or of its nearest existing ancestor. */
  valueAt(path: Path): Position {
    return this.pos(this.walk(path).node);
  }

  /** Position of the key `key` inside the map at `path` (for "unknown key" issues). */
  keyAt(path: Path, key: string): Position {
    const { node, depth } = this.walk(path);
    if (depth === path.length && isMap(node)) {
      for (const pair of node.items) {
        if (isPair(pair) && isScalar(pair.key) && String(pair.key.value) === key) return this.pos(pair.key as Node);
      }
    }
    return this.pos(node);
  }

  /** Follows `path` down the document as far as it exists. */
  private walk(path: Path): { node: Node | null; depth: number } {
    let node = (this.doc.contents as Node | null) ?? null;
    let depth = 0;
    for (const step of path) {
      let next: Node | null = null;
      if (isMap(node)) {
        for (const pair of node.items) {
          if (isPair(pair) && isScalar(pair.key) && String(pair.key.value) === String(step)) {
            next = (pair.value as Node | null) ?? (pair.key as Node);
            break;
          }
        }
      } else if (isSeq(node) && typeof step === 'number') {
        next = (node.items[step] as Node | undefined) ?? null;
      }
      if (!next) break;
      node = next;
      depth++;
    }
    return { node, depth };
  }

  private pos(node: Node | null): Position {
    const offset = node?.range?.[0] ?? 0;
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }
}
