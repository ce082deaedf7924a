/**
 * The JSON Schema of the configuration file, generated from the same zod schema the loader
 * checks with (schema.ts), for editors (YAML language servers read `# yaml-language-server:
 * $schema=…`). Published as docs/xswitch.schema.json by `xswitch validate --schema`; a test
 * fails when the published file and this output differ.
 */
import { z } from 'zod';
import { configSchema } from './schema.js';

export function configJsonSchema(): Record<string, unknown> {
  // io: 'input' — what a user may write (defaults make fields optional).
  const s = z.toJSONSchema(configSchema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    $schema: s.$schema,
    $id: 'https://github.com/xswitch/xswitch/docs/xswitch.schema.json',
    title: 'xswitch configuration',
    ...Object.fromEntries(Object.entries(s).filter(([k]) => k !== '$schema')),
  };
}

export function configJsonSchemaText(): string {
  return JSON.stringify(configJsonSchema(), null, 2) + '\n';
}
