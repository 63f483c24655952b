import Docker from 'dockerode';
import { stack } from './stack-env.ts';

/**
 * Containers and volumes a test creates, all removed by cleanup(), whatever state they are in; on the
 * main engine, or on another one (test/helpers/second-docker-engine.ts).
 */
export class DockerFixtures {
  readonly docker: Docker;
  constructor(docker = new Docker()) {
    this.docker = docker;
  }
  readonly #containers: string[] = [];
  readonly #volumes: string[] = [];

  async volume(name: string, labels: Record<string, string> = {}): Promise<string> {
    await this.docker.createVolume({ Name: name, Labels: labels });
    this.#volumes.push(name);
    return name;
  }

  /** A long-running busybox container (or `command`) with the volumes mounted at /<volume>. */
  async sleeper(
    name: string,
    volumes: string[],
    opts: {
      restartPolicy?: string;
      start?: boolean;
      command?: string[];
      labels?: Record<string, string>;
      /** e.g. `container:<id>`, what compose's `network_mode: service:x` becomes. */
      networkMode?: string;
    } = {},
  ) {
    const container = await this.docker.createContainer({
      name,
      Image: stack.busyboxImage,
      Cmd: opts.command ?? ['sleep', '100000'],
      StopSignal: 'SIGKILL',
      Labels: opts.labels ?? {},
      HostConfig: {
        Binds: volumes.map((v) => `${v}:/${v}`),
        RestartPolicy: { Name: opts.restartPolicy ?? 'no' },
        ...(opts.networkMode === undefined ? {} : { NetworkMode: opts.networkMode }),
      },
    });
    this.#containers.push(name);
    if (opts.start !== false) await container.start();
    return name;
  }

  /** Runs a shell script in a throwaway busybox container with the volumes at /<volume>; throws on failure. */
  async sh(volumes: string[], script: string): Promise<string> {
    const container = await this.docker.createContainer({
      Image: stack.busyboxImage,
      Cmd: ['sh', '-euc', script],
      HostConfig: { Binds: volumes.map((v) => `${v}:/${v}`) },
    });
    try {
      await container.start();
      const { StatusCode } = (await container.wait()) as { StatusCode: number };
      const logs = (await container.logs({ stdout: true, stderr: true })).toString('utf8');
      if (StatusCode !== 0) throw new Error(`script failed (${StatusCode}): ${logs}`);
      return logs;
    } finally {
      await container.remove({ force: true });
    }
  }

  async isRunning(name: string): Promise<boolean> {
    return (await this.docker.getContainer(name).inspect()).State.Running;
  }

  /** When the container last started: a restart changes it, however short the stop was. */
  async startedAt(name: string): Promise<string> {
    return (await this.docker.getContainer(name).inspect()).State.StartedAt;
  }

  async mountpoint(volume: string): Promise<string> {
    return (await this.docker.getVolume(volume).inspect()).Mountpoint;
  }

  async cleanup(): Promise<void> {
    for (const name of this.#containers.splice(0)) {
      await this.docker
        .getContainer(name)
        .remove({ force: true })
        .catch(() => {});
    }
    for (const name of this.#volumes.splice(0)) {
      await this.docker
        .getVolume(name)
        .remove({ force: true })
        .catch(() => {});
    }
  }
}
