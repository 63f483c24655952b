// Containers and volumes carrying the labels Compose v2 puts on what it creates, made with the
// Docker API so tests control each label (depends_on, one-off runs, a network_mode service).
import type { DockerFixtures } from './docker-fixtures.ts';

export interface ComposeServiceSpec {
  service: string;
  /** Replica number (`com.docker.compose.container-number`), default 1. */
  number?: number;
  /** The `com.docker.compose.depends_on` label's services. */
  dependsOn?: string[];
  /** `network_mode: service:x`: the container whose network this one shares. */
  networkOf?: string;
  volumes?: string[];
  /** A `docker compose run` container. */
  oneoff?: boolean;
  labels?: Record<string, string>;
  start?: boolean;
}

/** A running container named like compose names it (`<project>-<service>-<n>`); returns its name. */
export async function composeContainer(
  fixtures: DockerFixtures,
  project: string,
  spec: ComposeServiceSpec,
): Promise<string> {
  const number = spec.number ?? 1;
  const name = spec.oneoff
    ? `${project}-${spec.service}-run-${number}`
    : `${project}-${spec.service}-${number}`;
  const labels: Record<string, string> = {
    'com.docker.compose.project': project,
    'com.docker.compose.service': spec.service,
    'com.docker.compose.container-number': String(number),
    'com.docker.compose.oneoff': spec.oneoff ? 'True' : 'False',
    'com.docker.compose.version': '2.40.3',
    ...spec.labels,
  };
  if (spec.dependsOn && spec.dependsOn.length > 0) {
    labels['com.docker.compose.depends_on'] = spec.dependsOn
      .map((d) => `${d}:service_started:false`)
      .join(',');
  }
  let networkMode: string | undefined;
  if (spec.networkOf) {
    networkMode = `container:${(await fixtures.docker.getContainer(spec.networkOf).inspect()).Id}`;
  }
  return fixtures.sleeper(name, spec.volumes ?? [], {
    labels,
    ...(networkMode === undefined ? {} : { networkMode }),
    ...(spec.start === false ? { start: false } : {}),
  });
}

/** A volume as compose creates it for `volumes: { <name>: {} }`: `<project>_<name>`, labelled. */
export function composeVolume(fixtures: DockerFixtures, project: string, name: string): Promise<string> {
  return fixtures.volume(`${project}_${name}`, {
    'com.docker.compose.project': project,
    'com.docker.compose.volume': name,
    'com.docker.compose.version': '2.40.3',
  });
}

/** A container's State timestamp (RFC 3339 with up to 9 fraction digits) in nanoseconds, for ordering. */
export function nanos(timestamp: string): bigint {
  const match = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(timestamp);
  if (!match) throw new Error(`not an RFC 3339 UTC timestamp: ${timestamp}`);
  const fraction = (match[2] ?? '').padEnd(9, '0');
  return BigInt(Date.parse(`${match[1]}Z`)) * 1_000_000n + BigInt(fraction);
}
