/**
 * Where a worker thread's module is. Workers always run the compiled JavaScript in dist/:
 * Node 20 cannot load TypeScript in a Worker. Code running from dist/ resolves next to
 * itself; code running from the TypeScript sources (vitest) maps src/x.ts → dist/x.js,
 * which `npm test` builds first.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const inDist = path.basename(root) === 'dist';

/** `rel` is a path from the project root without extension, e.g. 'switch/queue-worker'. */
export function workerUrl(rel: string): URL {
  const file = inDist ? path.join(root, rel + '.js') : path.join(root, 'dist', rel + '.js');
  if (!existsSync(file)) throw new Error(`worker module ${file} is missing: run \`npm run build\` first`);
  return pathToFileURL(file);
}

/** The project root (the folder holding package.json). */
export function projectRoot(): string {
  return inDist ? path.dirname(root) : root;
}
