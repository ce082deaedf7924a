/**
 * Bad configurations and the exact messages the loader must give for each
 * (file:line:column: what is wrong (what is allowed)). The file name is always `bad.yaml`
 * (relative, so paths in messages resolve against the working directory). Lists that grow as
 * port types and built-ins are added are computed, not frozen.
 */
import path from 'node:path';
import os from 'node:os';
import { constants as bufferConstants } from 'node:buffer';
import { builtinProgramNames, portTypeNames } from '../../../daemon/config/modules.js';

export interface BadCase {
  name: string;
  yaml: string;
  expected: string[];
}

const gen = `ports:\n  - name: gen0\n    type: gen\n`;
const areaLimit = Math.min(bufferConstants.MAX_LENGTH, Math.floor(os.totalmem() / 2));
const areaWhy = areaLimit === bufferConstants.MAX_LENGTH ? 'the largest buffer Node allows' : "half this machine's memory";

export const BAD_CASES: BadCase[] = [
  { name: 'empty file', yaml: '', expected: [`bad.yaml:1:1: the file is empty (a map with at least \`ports:\`)`] },
  { name: 'not a map', yaml: '- 1\n- 2\n', expected: [`bad.yaml:1:1: (top level): a list is not a map (an xswitch configuration)`] },
  { name: 'YAML syntax: unclosed flow sequence', yaml: 'queues: 2\nports: [a, b\n', expected: [`bad.yaml:3:1: YAML: Flow sequence in block collection must be sufficiently indented and end with a ]`] },
  { name: 'YAML duplicate key', yaml: `queues: 2\nqueues: 3\n${gen}`, expected: [`bad.yaml:2:1: YAML: Map keys must be unique`] },
  { name: 'queues is a string', yaml: `queues: two\n${gen}`, expected: [`bad.yaml:1:9: queues: "two" is not an integer (the number of RX queues (channels), an integer from 1 to 64)`] },
  { name: 'queues zero', yaml: `queues: 0\n${gen}`, expected: [`bad.yaml:1:9: queues: 0 is too small (the number of RX queues (channels), an integer from 1 to 64)`] },
  { name: 'queues too many', yaml: `queues: 65\n${gen}`, expected: [`bad.yaml:1:9: queues: 65 is too large (the number of RX queues (channels), an integer from 1 to 64)`] },
  { name: 'queues fractional', yaml: `queues: 1.5\n${gen}`, expected: [`bad.yaml:1:9: queues: 1.5 is not an integer (the number of RX queues (channels), an integer from 1 to 64)`] },
  { name: 'frameSize not 2048/4096/16384', yaml: `frameSize: 3000\n${gen}`, expected: [`bad.yaml:1:12: frameSize: 3000 is not allowed (bytes per frame: 2048, 4096, or 16384 for MTU 9000 jumbo frames)`] },
  { name: 'ringSize not a power of two', yaml: `ringSize: 1000\n${gen}`, expected: [`bad.yaml:1:11: ringSize: 1000 is not a power of two (entries in every ring, a power of two from 16 to 65536)`] },
  { name: 'budget too large', yaml: `budget: 5000\n${gen}`, expected: [`bad.yaml:1:9: budget: 5000 is too large (descriptors a queue worker takes per breath, an integer from 1 to 1024)`] },
  { name: 'busyPoll negative', yaml: `busyPoll: -5\n${gen}`, expected: [`bad.yaml:1:11: busyPoll: -5 is too small (microseconds a queue worker keeps polling after its last packet before it sleeps (Linux's net.core.busy_poll), an integer from 0 to 1000000; default 0)`] },
  { name: 'poolFrames too small', yaml: `poolFrames: 8\n${gen}`, expected: [`bad.yaml:1:13: poolFrames: 8 is too small (frames in each port's pool, an integer from 64 to 1048576)`] },
  { name: 'unknown top-level key', yaml: `queue: 2\n${gen}`, expected: [`bad.yaml:1:1: queue: unknown key (allowed keys: queues, frameSize, poolFrames, superFrames, ringSize, budget, cpus, busyPoll, steering, control, metrics, interval, ports, programs)`] },
  { name: 'no ports', yaml: 'queues: 2\n', expected: [`bad.yaml:1:1: (top level): missing key 'ports' (a list of at least one port)`] },
  { name: 'empty port list', yaml: 'ports: []\n', expected: [`bad.yaml:1:8: ports: has 0 entries, too few (a list of at least one port)`] },
  { name: 'port without name', yaml: 'ports:\n  - type: gen\n', expected: [`bad.yaml:2:5: ports[0]: missing key 'name' (a port name: a letter, then up to 14 letters, digits, '_', '.', '-')`] },
  { name: 'port name with a space', yaml: 'ports:\n  - name: "gen 0"\n    type: gen\n', expected: [`bad.yaml:2:11: ports[0].name: "gen 0" is not valid (a port name: a letter, then up to 14 letters, digits, '_', '.', '-')`] },
  { name: 'port name too long', yaml: 'ports:\n  - name: abcdefghijklmnop\n    type: gen\n', expected: [`bad.yaml:2:11: ports[0].name: "abcdefghijklmnop" is not valid (a port name: a letter, then up to 14 letters, digits, '_', '.', '-')`] },
  { name: 'duplicate port name', yaml: `${gen}  - name: gen0\n    type: gen\n`, expected: [`bad.yaml:4:11: ports[1].name: 'gen0' is already the name of ports[0] (port names must be unique)`] },
  { name: 'unknown port type', yaml: 'ports:\n  - name: p0\n    type: carrier-pigeon\n', expected: [`bad.yaml:3:11: ports[0].type: unknown port type 'carrier-pigeon' (port types: ${portTypeNames().join(', ')})`] },
  { name: 'port option rejected by the port type', yaml: `${gen}    rate: fast\n`, expected: [`bad.yaml:4:11: ports[0].rate: must be an integer, got "fast" (a string)`] },
  { name: 'port option out of the range of the port type', yaml: `${gen}    rate: -1\n`, expected: [`bad.yaml:4:11: ports[0].rate: 'rate' must be an integer from 0 to 1000000000, got -1`] },
  { name: 'unknown port option', yaml: `${gen}    colour: red\n`, expected: [`bad.yaml:4:5: ports[0].colour: unknown option 'colour' (gen takes: flows, size, count, rate, proto, ipv6, src, dst, srcMac, dstMac, dstPort, thread, recycle)`] },
  { name: 'programs not a list', yaml: `${gen}programs: drop\n`, expected: [`bad.yaml:4:11: programs: "drop" is not a list (a list of program chains)`] },
  { name: 'chain empty', yaml: `${gen}programs:\n  - queues: all\n    chain: []\n`, expected: [`bad.yaml:6:12: programs[0].chain: has 0 entries, too few (a list of 1 to 10 programs)`] },
  { name: 'queue out of range', yaml: `queues: 2\n${gen}programs:\n  - queues: [0, 2]\n    chain:\n      - name: drop\n`, expected: [`bad.yaml:6:17: programs[0].queues[1]: queue 2 does not exist (queues 0 to 1)`] },
  { name: 'queue listed twice', yaml: `queues: 2\n${gen}programs:\n  - queues: [1, 1]\n    chain:\n      - name: drop\n`, expected: [`bad.yaml:6:17: programs[0].queues[1]: queue 1 is listed twice (each queue once)`] },
  { name: 'queue in two chains', yaml: `queues: 2\n${gen}programs:\n  - queues: [0, 1]\n    chain:\n      - name: drop\n  - queues: [1]\n    chain:\n      - name: pass\n`, expected: [`bad.yaml:9:13: programs[1].queues: queue 1 already runs programs[0] (one chain per queue)`] },
  { name: 'queues neither all nor a list', yaml: `${gen}programs:\n  - queues: some\n    chain:\n      - name: drop\n`, expected: [`bad.yaml:5:13: programs[0].queues: "some" is not allowed ("all" or a list of queue numbers, e.g. [0, 1])`] },
  { name: 'unknown built-in program', yaml: `${gen}programs:\n  - chain:\n      - name: dorp\n`, expected: [`bad.yaml:6:15: programs[0].chain[0].name: unknown program 'dorp' (built-ins: ${builtinProgramNames().join(', ')}; or a module path such as ./prog.js)`] },
  { name: 'program module path missing', yaml: `${gen}programs:\n  - chain:\n      - name: ./nowhere/prog.js\n`, expected: [`bad.yaml:6:15: programs[0].chain[0].name: no file ${path.resolve('nowhere/prog.js')} (a module path relative to bad.yaml)`] },
  { name: 'unknown continueOn verdict', yaml: `${gen}programs:\n  - chain:\n      - name: drop\n        continueOn: [PASS, MAYBE]\n`, expected: [`bad.yaml:7:28: programs[0].chain[0].continueOn[1]: "MAYBE" is not allowed (verdicts that continue to the next program (default [PASS], as libxdp): ABORTED, DROP, PASS, TX, REDIRECT)`] },
  { name: 'unknown program parameter', yaml: `${gen}programs:\n  - chain:\n      - name: drop\n        params: { speed: 3 }\n`, expected: [`bad.yaml:7:26: programs[0].chain[0].params.speed: unknown parameter 'speed' (parameters: readData)`] },
  { name: 'parameter of the wrong type', yaml: `${gen}programs:\n  - chain:\n      - name: drop\n        params: { readData: maybe }\n`, expected: [`bad.yaml:7:29: programs[0].chain[0].params.readData: "maybe" is not true or false (read the Ethernet type of each packet before dropping it)`] },
  { name: 'redirect to a port that does not exist', yaml: `${gen}programs:\n  - chain:\n      - name: redirect\n        params: { port: cap0 }\n`, expected: [`bad.yaml:7:25: programs[0].chain[0].params.port: no port named 'cap0' (ports: gen0)`] },
  { name: 'program rejects its configuration at create', yaml: `${gen}programs:\n  - chain:\n      - name: redirect\n`, expected: [`bad.yaml:6:15: programs[0].chain[0]: program 'redirect' rejects its configuration: redirect: give \`port\` or \`pairs\` (see the program's parameters)`] },
  {
    name: 'program rejects its parameters in setup (a bad route)',
    yaml: `${gen}programs:\n  - chain:\n      - name: router\n        params: { routes: ["10.0.0.0/8 via nothing"] }\n`,
    expected: [`bad.yaml:7:17: programs[0].chain[0]: program 'router' rejects its configuration: setup: route '10.0.0.0/8 via nothing': expected 'PREFIX via NEXTHOP-MAC dev PORT' (see the program's parameters)`],
  },
  { name: 'unknown key in a chain entry', yaml: `${gen}programs:\n  - chain:\n      - name: drop\n        parms: {}\n`, expected: [`bad.yaml:7:9: programs[0].chain[0].parms: unknown key (allowed keys: name, params, continueOn)`] },
  { name: 'chain longer than 10', yaml: `${gen}programs:\n  - chain: [${Array(11).fill('{ name: pass }').join(', ')}]\n`, expected: [`bad.yaml:5:12: programs[0].chain: has 11 entries, too many (a list of 1 to 10 programs)`] },
  { name: 'steering file missing', yaml: `steering: nowhere.flows\n${gen}`, expected: [`bad.yaml:1:11: steering: no file ${path.resolve('nowhere.flows')} (a flow-steering file relative to bad.yaml)`] },
  { name: 'metrics not loopback', yaml: `metrics: 0.0.0.0:9101\n${gen}`, expected: [`bad.yaml:1:10: metrics: 0.0.0.0 is not a loopback address (127.0.0.1, [::1] or localhost)`] },
  { name: 'YAML null where a port type belongs', yaml: 'ports:\n  - name: out0\n    type: null\n', expected: [`bad.yaml:3:11: ports[0].type: null is not a string; quote it ("null") if you meant the word (a port type: gen, null, pcap, udp, stream, vxlan, virtio, vhost-user, afpacket, tap)`] },
  { name: 'metrics not host:port', yaml: `metrics: 9101\n${gen}`, expected: [`bad.yaml:1:10: metrics: 9101 is not a string (a loopback address and port for the Prometheus endpoint, e.g. 127.0.0.1:9101)`] },
  { name: 'control not a map', yaml: `control: /tmp/x.sock\n${gen}`, expected: [`bad.yaml:1:10: control: "/tmp/x.sock" is not a map (the control socket, a map: { socket: PATH })`] },
  {
    name: 'frame area too large',
    yaml: `queues: 64\nframeSize: 4096\npoolFrames: 1048576\n${gen}`,
    expected: [`bad.yaml:3:13: poolFrames: the frame area would be 260.0 GiB ((1 ports + 64 queues) × 1048576 frames × 4096 bytes), more than ${(areaLimit / 2 ** 30).toFixed(1)} GiB (${areaWhy})`],
  },
  {
    name: 'YAML alias bomb',
    yaml: 'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n',
    expected: ['bad.yaml:1:1: YAML: Excessive alias count indicates a resource exhaustion attack (aliases may expand to at most 100 nodes)'],
  },
  {
    // Spelled differently, the same local address: 10.0.0.1 is 10.0.0.1:4789.
    name: 'two VXLAN ports with one VNI on one local address',
    yaml: 'ports:\n  - { name: vx1, type: vxlan, local: 10.0.0.1, remote: 10.0.0.2, vni: 7 }\n  - { name: vx2, type: vxlan, local: "10.0.0.1:4789", remote: 10.0.0.3, vni: 7 }\n  - { name: vx3, type: vxlan, local: "10.0.0.1:4790", remote: 10.0.0.3, vni: 7 }\n',
    expected: [`bad.yaml:3:78: ports[1].vni: VNI 7 is already port vx1's on 10.0.0.1:4789 (one port per VNI on a local address)`],
  },
  { name: 'several problems at once, in file order', yaml: `queues: -1\nbudget: 0\nports:\n  - name: 1x\n    type: gen\n`, expected: [`bad.yaml:1:9: queues: -1 is too small (the number of RX queues (channels), an integer from 1 to 64)`, `bad.yaml:2:9: budget: 0 is too small (descriptors a queue worker takes per breath, an integer from 1 to 1024)`, `bad.yaml:4:11: ports[0].name: "1x" is not valid (a port name: a letter, then up to 14 letters, digits, '_', '.', '-')`] },
];
