/**
 * Typed failures of the Docker adapter. Callers (Temporal activities) branch on the class or on
 * `code`, and map `retryable` to ApplicationFailure.nonRetryable. Messages name the container or
 * volume concerned and never contain environment values passed to exec.
 */
export type DockerAdapterErrorCode =
  | 'CONTAINER_NOT_FOUND'
  | 'VOLUME_NOT_FOUND'
  | 'DOCKER_UNAVAILABLE'
  | 'DOCKER_API'
  | 'CONTAINER_START'
  | 'EXEC_FAILED'
  | 'ARCHIVE'
  | 'STATE_FILE';

export class DockerAdapterError extends Error {
  override name = 'DockerAdapterError';
  readonly code: DockerAdapterErrorCode;
  readonly retryable: boolean;
  constructor(code: DockerAdapterErrorCode, message: string, retryable: boolean, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.retryable = retryable;
  }
}

export class ContainerNotFoundError extends DockerAdapterError {
  override name = 'ContainerNotFoundError';
  readonly container: string;
  constructor(container: string, options?: ErrorOptions) {
    super('CONTAINER_NOT_FOUND', `container '${container}' does not exist`, false, options);
    this.container = container;
  }
}

export class VolumeNotFoundError extends DockerAdapterError {
  override name = 'VolumeNotFoundError';
  readonly volume: string;
  constructor(volume: string, options?: ErrorOptions) {
    super('VOLUME_NOT_FOUND', `volume '${volume}' does not exist`, false, options);
    this.volume = volume;
  }
}

/** The engine could not be reached (socket missing, connection refused, 5xx from a restarting daemon). */
export class DockerUnavailableError extends DockerAdapterError {
  override name = 'DockerUnavailableError';
  constructor(message: string, options?: ErrorOptions) {
    super('DOCKER_UNAVAILABLE', message, true, options);
  }
}

/** Any other refusal of the Docker API (e.g. 409 conflict, 400 bad parameter). */
export class DockerApiError extends DockerAdapterError {
  override name = 'DockerApiError';
  readonly statusCode: number | undefined;
  constructor(message: string, statusCode: number | undefined, options?: ErrorOptions) {
    super('DOCKER_API', message, statusCode === undefined || statusCode >= 500, options);
    this.statusCode = statusCode;
  }
}

/**
 * A container did not start or did not stay running. Retryable: a dependency that was not ready yet
 * is the common cause; the workflow's retry policy bounds the attempts.
 */
export class ContainerStartError extends DockerAdapterError {
  override name = 'ContainerStartError';
  readonly container: string;
  readonly logsTail: string;
  constructor(container: string, reason: string, logsTail: string, options?: ErrorOptions) {
    const logs = logsTail.trim() === '' ? '(no log output)' : logsTail.trimEnd();
    super('CONTAINER_START', `container '${container}' ${reason}; last log lines:\n${logs}`, true, options);
    this.container = container;
    this.logsTail = logsTail;
  }
}

export type ExecFailureReason = 'timeout' | 'not-running' | 'api' | 'input-closed';

/** An exec could not be run or did not finish in time (a non-zero exit code is a result, not this error). */
export class ExecFailedError extends DockerAdapterError {
  override name = 'ExecFailedError';
  readonly container: string;
  readonly reason: ExecFailureReason;
  constructor(container: string, reason: ExecFailureReason, message: string, options?: ErrorOptions) {
    super('EXEC_FAILED', message, reason === 'api', options);
    this.container = container;
    this.reason = reason;
  }
}

/** The archive producer failed (tar exit status, Docker API error, abort): the stream is not a complete archive. */
export class ArchiveError extends DockerAdapterError {
  override name = 'ArchiveError';
  readonly volume: string;
  constructor(volume: string, message: string, retryable = true, options?: ErrorOptions) {
    super('ARCHIVE', message, retryable, options);
    this.volume = volume;
  }
}

/** The stopped-containers record on disk could not be read or written. */
export class StateFileError extends DockerAdapterError {
  override name = 'StateFileError';
  readonly path: string;
  constructor(path: string, message: string, options?: ErrorOptions) {
    super('STATE_FILE', message, false, options);
    this.path = path;
  }
}

interface DockerodeLikeError {
  statusCode?: number;
  code?: string;
  reason?: string;
  json?: { message?: string } | null;
  message?: string;
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOENT',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'EACCES',
]);

/** The engine's own message of a dockerode error ("No such container: x"), else the error's message. */
function dockerMessage(err: unknown): string {
  const e = (err ?? {}) as DockerodeLikeError;
  return e.json?.message ?? e.message ?? String(err);
}

export function statusCodeOf(err: unknown): number | undefined {
  const code = (err as DockerodeLikeError | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Maps a dockerode failure to a typed error. `notFound` builds the error for a 404 (the caller knows
 * whether the missing object is a container or a volume).
 */
export function mapDockerError(err: unknown, what: string, notFound?: () => DockerAdapterError): Error {
  if (err instanceof DockerAdapterError) return err;
  const status = statusCodeOf(err);
  if (status === 404 && notFound) return notFound();
  const code = (err as DockerodeLikeError | null)?.code;
  if (status === undefined && typeof code === 'string' && UNAVAILABLE_CODES.has(code)) {
    return new DockerUnavailableError(`Docker engine unreachable while ${what}: ${code}`, { cause: err });
  }
  if (status === 502 || status === 503 || status === 504) {
    return new DockerUnavailableError(`Docker engine unavailable while ${what}: ${dockerMessage(err)}`, {
      cause: err,
    });
  }
  return new DockerApiError(`Docker API error while ${what}: ${dockerMessage(err)}`, status, { cause: err });
}
