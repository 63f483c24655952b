import assert from 'node:assert/strict';
import { test } from 'node:test';
import { networkDependents, selectContainers } from '../../../src/selectors/select.ts';
import type { ContainerFacts, ContainerSelector, VolumeFacts } from '../../../src/selectors/types.ts';
import { resolveVolumeName, missingVolume } from '../../../src/selectors/volumes.ts';

function c(name: string, labels: Record<string, string>): ContainerFacts {
  return { id: `id-${name}`, name, labels, networkMode: 'bridge' };
}
const compose = (project: string, service: string, n = 1, extra: Record<string, string> = {}) =>
  c(`${project}-${service}-${n}`, {
    'com.docker.compose.project': project,
    'com.docker.compose.service': service,
    'com.docker.compose.container-number': String(n),
    'com.docker.compose.oneoff': 'False',
    ...extra,
  });

const host = [
  compose('shop', 'web', 10),
  compose('shop', 'web', 2),
  compose('shop', 'db'),
  compose('shop', 'web', 1, { 'com.docker.compose.oneoff': 'True' }),
  compose('blog', 'db', 1, { 'com.example.backup': 'true' }),
  c('legacy', { 'com.example.backup': 'true' }),
];
const sel = (s: Omit<ContainerSelector, 'configPath'>): ContainerSelector => ({ configPath: 'x', ...s });
const picked = (s: Omit<ContainerSelector, 'configPath'>) => {
  const r = selectContainers(sel(s), host, 'local');
  assert.deepEqual(r.problems, []);
  return r.selected.map((x) => x.name);
};

test('a project selects all its services, replicas in number order, never one-off run containers', () => {
  assert.deepEqual(picked({ compose: { project: 'shop' } }), ['shop-db-1', 'shop-web-2', 'shop-web-10']);
  assert.deepEqual(picked({ compose: { project: 'shop', services: ['web'] } }), [
    'shop-web-2',
    'shop-web-10',
  ]);
});

test('labels select across projects and plain containers; with compose both must match', () => {
  assert.deepEqual(picked({ labels: { 'com.example.backup': 'true' } }), ['legacy', 'blog-db-1']);
  assert.deepEqual(picked({ compose: { project: 'blog' }, labels: { 'com.example.backup': 'true' } }), [
    'blog-db-1',
  ]);
});

test('what cannot resolve is named, every problem at once', () => {
  const missing = selectContainers(sel({ compose: { project: 'shopp' } }), host, 'local');
  assert.deepEqual(missing.problems, [
    'compose project "shopp" has no containers on host local (projects here: blog, shop) (did you mean "shop"?)',
  ]);
  const services = selectContainers(
    sel({ compose: { project: 'shop', services: ['wbe', 'dbb', 'web'] } }),
    host,
    'h1',
  );
  assert.deepEqual(services.problems, [
    'service "wbe" not in project shop (services: db, web)',
    'service "dbb" not in project shop (services: db, web) (did you mean "db"?)',
  ]);
  const none = selectContainers(
    sel({ compose: { project: 'shop' }, labels: { a: 'b', c: 'd' } }),
    host,
    'h1',
  );
  assert.deepEqual(none.problems, [
    'selector matches no container on host h1 (compose project shop; labels a=b, c=d)',
  ]);
  const oneoffOnly = selectContainers(
    sel({ compose: { project: 'x' } }),
    [compose('x', 'web', 1, { 'com.docker.compose.oneoff': 'True' })],
    'h',
  );
  assert.deepEqual(oneoffOnly.problems, [
    'compose project "x" has no containers on host h (projects here: none)',
  ]);
});

test('compose volume names resolve to the project volume first, then to the exact name', () => {
  const volumes: VolumeFacts[] = [
    { name: 'data', labels: {} },
    {
      name: 'shop_data',
      labels: { 'com.docker.compose.project': 'shop', 'com.docker.compose.volume': 'data' },
    },
    {
      name: 'custom-name',
      labels: { 'com.docker.compose.project': 'shop', 'com.docker.compose.volume': 'uploads' },
    },
    { name: 'shop_cache', labels: {} },
  ];
  assert.equal(resolveVolumeName('data', 'shop', volumes), 'shop_data', 'the project declares "data"');
  assert.equal(resolveVolumeName('uploads', 'shop', volumes), 'custom-name', 'compose `name:` override');
  assert.equal(resolveVolumeName('cache', 'shop', volumes), 'shop_cache', 'unlabelled <project>_<name>');
  assert.equal(resolveVolumeName('shop_data', 'shop', volumes), 'shop_data', 'the full name works too');
  assert.equal(resolveVolumeName('data', undefined, volumes), 'data', 'without a project: the exact name');
  assert.equal(resolveVolumeName('cache', undefined, volumes), undefined);
  assert.equal(
    missingVolume('logs', 'shop'),
    'volume "logs" does not exist, nor does project shop\'s volume "logs" (shop_logs)',
  );
});

test("containers sharing a selected container's network are added, transitively, one-offs never", () => {
  const vpn = { ...compose('media', 'vpn'), id: 'a'.repeat(64) };
  const torrent = { ...compose('media', 'torrent'), networkMode: `container:${vpn.id}` };
  const ui = { ...compose('media', 'ui'), networkMode: `container:${torrent.name}` };
  const other = { ...compose('media', 'other'), networkMode: 'bridge' };
  const run = {
    ...compose('media', 'torrent', 1, { 'com.docker.compose.oneoff': 'True' }),
    name: 'media-torrent-run-1',
    networkMode: `container:${vpn.id}`,
  };
  const added = networkDependents([vpn], [vpn, torrent, ui, other, run]);
  assert.deepEqual(
    added.map((a) => [a.container.name, a.provider.name]),
    [
      ['media-torrent-1', 'media-vpn-1'],
      ['media-ui-1', 'media-torrent-1'],
    ],
  );
  assert.deepEqual(networkDependents([other], [vpn, torrent, ui, other]), []);
});
