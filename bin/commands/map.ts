/**
 * `xswitch map list|dump|lookup|update|delete`: the maps of a running switch's programs,
 * with bpftool's words and output:
 *
 *   xswitch map list
 *   xswitch map dump id 3                  (or: name ddos/blocklist_v4)
 *   xswitch map update id 3 key 0x0a 0 0 1 value 1 0 0 0 [any|noexist|exist]
 *   xswitch map lookup id 3 key hex 0a 00 00 01
 *   xswitch map delete id 3 key hex 0a 00 00 01
 */
import type { Argv, CommandModule } from 'yargs';
import { printJson, withClient, withClientOptions, type ClientArgs } from '../cli.js';

interface Args extends ClientArgs {
  words?: (string | number)[];
}

interface MapInfo {
  id: number;
  name: string;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  bytes: number;
}

/** MAP := id N | name NAME, then `key BYTES`, `value BYTES`, and a flag word, bpftool's order. */
export function parseMapWords(words: string[]): { map: number | string; key?: string[]; value?: string[]; flags?: string } {
  const [kind, ref, ...rest] = words;
  if ((kind !== 'id' && kind !== 'name') || ref === undefined) throw new Error("name the map: 'id N' or 'name PROGRAM/MAP' (see `xswitch map list`)");
  const map = kind === 'id' ? Number(ref) : ref;
  if (kind === 'id' && !(Number.isInteger(map) && (map as number) > 0)) throw new Error(`'${ref}' is not a map id`);
  const out: { map: number | string; key?: string[]; value?: string[]; flags?: string } = { map };
  let cur: string[] | null = null;
  for (const w of rest) {
    if (w === 'key') cur = out.key = [];
    else if (w === 'value') cur = out.value = [];
    else if (w === 'any' || w === 'noexist' || w === 'exist') {
      out.flags = w;
      cur = null;
    } else if (cur) cur.push(w);
    else throw new Error(`unexpected word '${w}' (expected key …, value … or any|noexist|exist)`);
  }
  return out;
}

function sub(name: string, describe: string, needs: ('key' | 'value')[], example: [string, string]): CommandModule<ClientArgs, Args> {
  return {
    command: `${name} <words..>`,
    describe,
    builder: (y) =>
      y.positional('words', { type: 'string', array: true, describe: 'id N | name PROG/MAP, then key/value bytes' }).example(...example) as Argv<Args>,
    handler: (a) =>
      withClient(a, async (c) => {
        const p = parseMapWords((a.words ?? []).map(String));
        for (const n of needs) if (!p[n]) throw new Error(`${name} needs '${n} BYTES'`);
        const r = await c.request<{ text?: string; json?: unknown; found?: boolean }>(`map.${name}`, p);
        if (a.json) printJson(r.json !== undefined ? r.json : r);
        else if (r.text !== undefined) process.stdout.write(r.text);
        if (r.found === false) process.exitCode = 1;
      }),
  };
}

const list: CommandModule<ClientArgs, ClientArgs> = {
  command: 'list',
  aliases: ['show'],
  describe: 'Every map of the loaded programs (bpftool map list)',
  builder: (y) => y.example('$0 map list', '1: lpm_trie  name ddos/blocklist_v4  flags 0x0 …'),
  handler: (a) =>
    withClient(a, async (c) => {
      const maps = await c.request<MapInfo[]>('map.list');
      if (a.json) return printJson(maps);
      for (const m of maps) {
        process.stdout.write(`${m.id}: ${m.type}  name ${m.name}  flags 0x${m.flags.toString(16)}\n`);
        process.stdout.write(`\tkey ${m.keySize}B  value ${m.valueSize}B  max_entries ${m.maxEntries}  memlock ${m.bytes}B\n`);
      }
    }),
};

const command: CommandModule<object, ClientArgs> = {
  command: 'map <command>',
  describe: "Maps of the running switch's programs (bpftool map …)",
  builder: (y) =>
    withClientOptions(y)
      .parserConfiguration({ 'unknown-options-as-args': true })
      .command(list)
      .command(sub('dump', 'Every entry (bpftool map dump)', [], ['$0 map dump id 1', 'key: … value: …, then Found N elements']))
      .command(sub('lookup', 'One entry (bpftool map lookup)', ['key'], ['$0 map lookup id 1 key hex 0a 00 00 01', 'the entry, or Not found']))
      .command(sub('update', 'Insert or replace an entry (bpftool map update)', ['key', 'value'], ['$0 map update name ddos/blocklist_v4 key 24 0 0 0 10 0 0 0 value 1 0 0 0', 'block 10.0.0.0/24']))
      .command(sub('delete', 'Remove an entry (bpftool map delete)', ['key'], ['$0 map delete id 1 key hex 18 00 00 00 0a 00 00 00', 'remove an entry']))
      .demandCommand(1, 'map list | dump | lookup | update | delete'),
  handler: () => {},
};

export default command;
