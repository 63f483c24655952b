// Shared fixtures of the Docker adapter tests: unique names, throwaway volumes and busybox containers.
import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import { demuxBuffer } from '../../../src/docker/demux.ts';
import { stack } from '../../helpers/stack-env.ts';

export const docker = new Docker();

/** A unique prefix for one test file's containers and volumes (other suites share the engine). */
export function uniquePrefix(): string {
  return `dv-dockertest-${randomBytes(4).toString('hex')}`;
}

/** Tracks what a test file created, so `after` removes exactly that. */
export class Resources {
  readonly prefix = uniquePrefix();
  private containers = new Set<string>();
  private volumes = new Set<string>();
  private counter = 0;

  name(suffix: string): string {
    return `${this.prefix}-${suffix}-${this.counter++}`;
  }

  async volume(suffix = 'vol'): Promise<string> {
    const name = this.name(suffix);
    await docker.createVolume({ Name: name });
    this.volumes.add(name);
    return name;
  }

  async container(suffix: string, cmd: string[], binds: string[] = [], start = true): Promise<string> {
    const name = this.name(suffix);
    await docker.createContainer({ name, Image: stack.busyboxImage, Cmd: cmd, HostConfig: { Binds: binds } });
    this.containers.add(name);
    if (start) await docker.getContainer(name).start();
    return name;
  }

  /** Runs a busybox shell script to completion with the volume at /data; throws with its output on failure. */
  async runInVolume(volume: string, script: string): Promise<string> {
    const name = await this.container('run', ['sh', '-c', script], [`${volume}:/data`], false);
    const container = docker.getContainer(name);
    try {
      await container.start();
      const result = (await container.wait()) as { StatusCode: number };
      const output = demuxBuffer(await container.logs({ stdout: true, stderr: true, follow: false }));
      if (result.StatusCode !== 0) throw new Error(`script failed (${result.StatusCode}): ${output}`);
      return output;
    } finally {
      await container.remove({ force: true });
      this.containers.delete(name);
    }
  }

  async cleanup(): Promise<void> {
    for (const name of this.containers) {
      await docker
        .getContainer(name)
        .remove({ force: true })
        .catch(() => undefined);
    }
    // Archive helpers of our volumes, in case a failing test left one behind.
    const helpers = await docker.listContainers({
      all: true,
      filters: { label: ['dockvault.helper=archive'] },
    });
    for (const helper of helpers) {
      if (this.volumes.has(helper.Labels['dockvault.volume'] ?? '')) {
        await docker
          .getContainer(helper.Id)
          .remove({ force: true })
          .catch(() => undefined);
      }
    }
    for (const name of this.volumes) {
      await docker
        .getVolume(name)
        .remove({ force: true })
        .catch(() => undefined);
    }
  }
}
