import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dependsOnServices } from '../../../src/selectors/labels.ts';
import { stopOrder } from '../../../src/selectors/order.ts';
import type { ContainerFacts } from '../../../src/selectors/types.ts';

/** A compose container `p-<service>-<n>` depending on `deps` (services), optionally sharing a network. */
function svc(
  service: string,
  deps: string[] = [],
  opts: { n?: number; network?: string; project?: string } = {},
) {
  const project = opts.project ?? 'p';
  const name = `${project}-${service}-${opts.n ?? 1}`;
  const facts: ContainerFacts = {
    id: `id-${name}`.padEnd(64, '0'),
    name,
    labels: {
      'com.docker.compose.project': project,
      'com.docker.compose.service': service,
      'com.docker.compose.container-number': String(opts.n ?? 1),
      ...(deps.length > 0
        ? { 'com.docker.compose.depends_on': deps.map((d) => `${d}:service_started:false`).join(',') }
        : {}),
    },
    networkMode: opts.network ? `container:${opts.network}` : 'bridge',
  };
  return facts;
}

const names = (r: ReturnType<typeof stopOrder>) => {
  assert.ok('order' in r, `expected an order, got a cycle: ${'cycle' in r ? r.cycle.join(' -> ') : ''}`);
  return r.order.map((c) => c.name);
};

test('the depends_on label names services, whatever the compose release wrote', () => {
  assert.deepEqual(dependsOnServices('db:service_started:false,cache:service_healthy:true'), ['db', 'cache']);
  assert.deepEqual(dependsOnServices('db,cache:service_started'), ['db', 'cache']);
  assert.deepEqual(dependsOnServices(''), []);
  assert.deepEqual(dependsOnServices(undefined), []);
});

test('dependents stop first; among free containers the given order decides', () => {
  const db = svc('db');
  const cache = svc('cache');
  const web = svc('web', ['db', 'cache']);
  const worker = svc('worker', ['db']);
  assert.deepEqual(names(stopOrder([cache, db, web, worker])), [
    'p-web-1',
    'p-cache-1',
    'p-worker-1',
    'p-db-1',
  ]);
  const result = stopOrder([db, web]);
  assert.ok('order' in result);
  assert.deepEqual(result.order, [
    { name: 'p-web-1', service: 'p/web', dependsOn: ['p-db-1'] },
    { name: 'p-db-1', service: 'p/db', dependsOn: [] },
  ]);
});

test('every replica of a scaled service stops before what it depends on', () => {
  const order = names(stopOrder([svc('db'), svc('web', ['db'], { n: 1 }), svc('web', ['db'], { n: 2 })]));
  assert.deepEqual(order, ['p-web-1', 'p-web-2', 'p-db-1']);
});

test('a chain stops from its top: proxy -> web -> api -> db', () => {
  const order = names(stopOrder([svc('db'), svc('api', ['db']), svc('web', ['api']), svc('proxy', ['web'])]));
  assert.deepEqual(order, ['p-proxy-1', 'p-web-1', 'p-api-1', 'p-db-1']);
});

test('network_mode service: (container:<id>, a short id or a name) is a dependency', () => {
  const web = svc('web');
  const byId = svc('sidecar', [], { network: web.id });
  assert.deepEqual(names(stopOrder([web, byId])), ['p-sidecar-1', 'p-web-1']);
  const byShortId = svc('sidecar', [], { network: web.id.slice(0, 12) });
  assert.deepEqual(names(stopOrder([web, byShortId])), ['p-sidecar-1', 'p-web-1']);
  const byName = svc('sidecar', [], { network: web.name });
  assert.deepEqual(names(stopOrder([web, byName])), ['p-sidecar-1', 'p-web-1']);
});

test('dependencies outside the selection, or in another project, order nothing', () => {
  assert.deepEqual(names(stopOrder([svc('db'), svc('web', ['cache'])])), ['p-db-1', 'p-web-1']);
  // Same service name in another project: not this web's db.
  assert.deepEqual(names(stopOrder([svc('db', [], { project: 'q' }), svc('web', ['db'])])), [
    'q-db-1',
    'p-web-1',
  ]);
});

test('a cycle is reported as the path that closes it', () => {
  const result = stopOrder([svc('db'), svc('web', ['api']), svc('api', ['web'])]);
  assert.ok('cycle' in result);
  assert.deepEqual(result.cycle, ['p-web-1', 'p-api-1', 'p-web-1']);
  const long = stopOrder([svc('a', ['b']), svc('b', ['c']), svc('c', ['a']), svc('d', ['a'])]);
  assert.ok('cycle' in long);
  assert.deepEqual(long.cycle, ['p-a-1', 'p-b-1', 'p-c-1', 'p-a-1']);
  const self = stopOrder([svc('web', ['web'])]);
  assert.deepEqual(names(self), ['p-web-1'], 'a service does not depend on itself');
});
