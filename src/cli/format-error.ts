/** One place that turns any thrown value into the text a user sees. */
export function formatError(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `\n  caused by: ${err.cause.message}` : '';
    return `dockvault: ${err.message}${cause}`;
  }
  return `dockvault: ${String(err)}`;
}
