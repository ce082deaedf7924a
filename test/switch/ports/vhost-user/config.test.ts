/** The vhost-user port's options, and the runnable example in examples/vm/. */
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { loadConfig } from '../../../../daemon/config/index.js';
import vhostUser from '../../../../switch/ports/vhost-user.js';
import { portOptionIssues } from '../../../../switch/ports/options.js';

describe('vhost-user port options', () => {
  it('examples/vm/vhost-user.yaml validates', async () => {
    const c = await loadConfig(path.resolve('examples/vm/vhost-user.yaml'));
    expect(c.switch.ports.map((p) => p.type)).toEqual(['vhost-user', 'vhost-user']);
  });

  it('says what is wrong with bad options', () => {
    expect(vhostUser.validate!({ name: 'v', type: 'vhost-user', socket: '/tmp/x.sock' })).toEqual([]);
    expect(vhostUser.validate!({ name: 'v', type: 'vhost-user' })).toEqual([expect.stringMatching(/socket: a path for the vhost-user socket is required/)]);
    expect(vhostUser.validate!({ name: 'v', type: 'vhost-user', socket: '/tmp/' + 'x'.repeat(120) })).toEqual([expect.stringMatching(/too long for a UNIX socket/)]);
    // Unknown options and wrong types are the shared option check's (switch/ports/options.ts).
    expect(portOptionIssues(vhostUser, { name: 'v', type: 'vhost-user', socket: '/tmp/x', mac: 'x' })).toEqual(["unknown option 'mac' (vhost-user takes: socket, queuePairs, queueSize, packedRing)"]);
    expect(portOptionIssues(vhostUser, { name: 'v', type: 'vhost-user', socket: '/tmp/x', packedRing: 'no' })).toEqual([expect.stringMatching(/packedRing/)]);
    expect(vhostUser.validate!({ name: 'v', type: 'vhost-user', socket: '/tmp/x', packedRing: false })).toEqual([]);
    expect(vhostUser.validate!({ name: 'v', type: 'vhost-user', socket: '/tmp/x', queuePairs: 9, queueSize: 100 })).toEqual([
      'queuePairs must be an integer in 1..8',
      'queueSize must be a power of two in 1..32768',
    ]);
  });
});
