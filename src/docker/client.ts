import Docker from 'dockerode';

/**
 * The Docker engine client. docker-modem reads DOCKER_HOST (unix://, tcp://, ssh://, npipe://),
 * DOCKER_TLS_VERIFY and DOCKER_CERT_PATH itself; without DOCKER_HOST it uses the default socket
 * (/var/run/docker.sock, or Docker Desktop's per-user socket).
 */
export function createDockerClient(): Docker {
  return new Docker();
}
