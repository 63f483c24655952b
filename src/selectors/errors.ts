/**
 * A selector that cannot resolve on this host: a project or service that is not there, nothing
 * matching, a dependency cycle. Retrying cannot fix it, and it is raised before anything is stopped.
 */
export class SelectorError extends Error {
  override name = 'SelectorError';
  readonly retryable = false;
}
