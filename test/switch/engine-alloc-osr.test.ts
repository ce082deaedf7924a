/**
 * The run-to-completion hot paths allocate nothing even where V8 leaves them half-optimized.
 *
 * V8 can compile a function's loop alone (on-stack replacement) and keep running the rest
 * of the function — the code before the loop and the loop's first pass — unoptimized,
 * call after call. There every double, and every 32-bit integer beyond ±2^30, is a heap
 * number. A CI run caught the generator's poll so: its loop compiled alone for good, a
 * Toeplitz hash boxed every breath (32 bytes a breath, all eight measurements;
 * docs/architecture.md §3). `--always-osr` makes V8 do that to every function with a loop;
 * this file runs the rigs of engine-alloc.test.ts under it, in its own process (vitest's
 * forks pool), and asks the same of them.
 */
import { setFlagsFromString } from 'node:v8';
import { describe } from 'vitest';
import { engineAllocationCases } from '../support/engine-rigs.js';

// Read by V8 each time it decides how to tier a function up: set before any rig runs.
setFlagsFromString('--always-osr');

describe('queue engine under --always-osr: no allocation per packet or per breath', () => {
  engineAllocationCases();
});
