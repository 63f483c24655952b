// The labels Compose v2 puts on the containers and volumes it creates.

export const PROJECT_LABEL = 'com.docker.compose.project';
export const SERVICE_LABEL = 'com.docker.compose.service';
export const CONTAINER_NUMBER_LABEL = 'com.docker.compose.container-number';
export const DEPENDS_ON_LABEL = 'com.docker.compose.depends_on';
export const ONEOFF_LABEL = 'com.docker.compose.oneoff';
export const VOLUME_LABEL = 'com.docker.compose.volume';

/**
 * The services named by a `com.docker.compose.depends_on` label: `db:service_started:false,cache:service_healthy:true`
 * (older releases wrote `db` or `db:service_started`). Compose also records links, `volumes_from` and
 * `network_mode: service:` there.
 */
export function dependsOnServices(label: string | undefined): string[] {
  if (!label) return [];
  return label
    .split(',')
    .map((entry) => entry.split(':')[0]!.trim())
    .filter((service) => service !== '');
}

/** `docker compose run` containers: never part of a backup, they come and go. */
export function isOneOff(labels: Record<string, string>): boolean {
  return labels[ONEOFF_LABEL]?.toLowerCase() === 'true';
}
