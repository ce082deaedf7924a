/**
 * Configuration errors, each pinned to where it is in the file.
 *
 * Every message reads `file:line:column: what is wrong (what is allowed)`, the form
 * compilers use, so editors and terminals can jump to the spot.
 */
export interface ConfigIssue {
  file: string;
  /** 1-based, as editors count. */
  line: number;
  column: number;
  message: string;
}

export function formatIssue(i: ConfigIssue): string {
  return `${i.file}:${i.line}:${i.column}: ${i.message}`;
}

/** Thrown by loadConfig with every issue found (not just the first). */
export class ConfigError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
  }
}
