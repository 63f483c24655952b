import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  containersUsingVolume,
  inspectContainer,
  startContainer,
  stopContainer,
} from '../../../src/docker/containers.ts';
import {
  ContainerNotFoundError,
  ContainerStartError,
  VolumeNotFoundError,
} from '../../../src/docker/errors.ts';
import { Resources, docker } from './helpers.ts';

const res = new Resources();
after(() => res.cleanup());

let sleeper: string;
let volume: string;
before(async () => {
  volume = await res.volume('data');
  sleeper = await res.container('sleeper', ['sleep', '3600'], [`${volume}:/data`]);
});

test('inspectContainer reports state, image, restart policy and mounts', async () => {
  const state = await inspectContainer(docker, sleeper);
  assert.equal(state.name, sleeper);
  assert.equal(state.running, true);
  assert.equal(state.status, 'running');
  assert.match(state.id, /^[0-9a-f]{64}$/);
  assert.equal(state.image, process.env.DOCKVAULT_BUSYBOX_IMAGE);
  assert.equal(state.restartPolicy, 'no');
  assert.ok(state.startedAt.startsWith('20'));
  assert.deepEqual(
    state.mounts.map(({ type, name, destination, readOnly }) => ({ type, name, destination, readOnly })),
    [{ type: 'volume', name: volume, destination: '/data', readOnly: false }],
  );
});

test('stop is idempotent, start brings the container back', async () => {
  await stopContainer(docker, sleeper, 1);
  assert.equal((await inspectContainer(docker, sleeper)).running, false);
  await stopContainer(docker, sleeper, 1); // 304: already stopped
  await startContainer(docker, sleeper, { waitMs: 300 });
  assert.equal((await inspectContainer(docker, sleeper)).running, true);
  await startContainer(docker, sleeper, { waitMs: 100 }); // 304: already running
  assert.equal((await inspectContainer(docker, sleeper)).running, true);
});

test('a missing container is a ContainerNotFoundError naming it', async () => {
  const missing = `${res.prefix}-missing`;
  for (const call of [
    () => inspectContainer(docker, missing),
    () => stopContainer(docker, missing, 1),
    () => startContainer(docker, missing, { waitMs: 0 }),
  ]) {
    await assert.rejects(call, (err: unknown) => {
      assert.ok(err instanceof ContainerNotFoundError);
      assert.equal(err.retryable, false);
      assert.equal(err.code, 'CONTAINER_NOT_FOUND');
      assert.match(err.message, new RegExp(missing));
      return true;
    });
  }
});

test('a container that exits right after start is a ContainerStartError with its logs', async () => {
  const quitter = await res.container(
    'quitter',
    ['sh', '-c', 'echo "config file missing: /etc/app.conf" >&2; exit 3'],
    [],
    false,
  );
  await assert.rejects(
    () => startContainer(docker, quitter, { waitMs: 500 }),
    (err: unknown) => {
      assert.ok(err instanceof ContainerStartError);
      assert.match(err.message, new RegExp(quitter));
      assert.match(err.message, /exited/);
      assert.match(err.logsTail, /config file missing: \/etc\/app.conf/);
      return true;
    },
  );
});

test('a container whose command cannot be run is a ContainerStartError', async () => {
  const broken = await res.container('broken', ['/no/such/binary'], [], false);
  await assert.rejects(
    () => startContainer(docker, broken, { waitMs: 100 }),
    (err: unknown) => err instanceof ContainerStartError && err.message.includes(broken),
  );
});

test('containersUsingVolume finds running and stopped containers mounting the volume', async () => {
  const stopped = await res.container('stopped', ['true'], [`${volume}:/elsewhere:ro`], false);
  await res.container('other', ['sleep', '3600']); // no volume: must not be listed
  const users = await containersUsingVolume(docker, volume);
  const byName = new Map(users.map((u) => [u.name, u]));
  assert.deepEqual([...byName.keys()].sort(), [sleeper, stopped].sort());
  assert.equal(byName.get(sleeper)?.running, true);
  assert.equal(byName.get(stopped)?.running, false);
  assert.equal(byName.get(stopped)?.mounts[0]?.readOnly, true);
  assert.deepEqual(await containersUsingVolume(docker, await res.volume('unused')), []);
  await assert.rejects(() => containersUsingVolume(docker, `${res.prefix}-novol`), VolumeNotFoundError);
});
