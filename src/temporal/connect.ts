import type { TemporalSettings } from '../config/index.ts';
import {
  describeTemporalSecurity,
  temporalConnectionOptions,
  type TemporalConnectionOptions,
} from './connection-options.ts';
import { explainConnectFailure } from './explain-failure.ts';

export interface TemporalConnector {
  /** Which TLS files and API key source are used, for logs: never a key. */
  description: string;
  /** Opens a connection of either SDK; a failure becomes a TemporalConnectionError that says why. */
  connect<T>(open: (options: TemporalConnectionOptions) => Promise<T>): Promise<T>;
}

/**
 * Reads the TLS files and API key once, so the CLI's Connection and the worker's NativeConnection
 * connect the same way and fail with the same explanation.
 */
export async function temporalConnector(
  settings: TemporalSettings,
  env: NodeJS.ProcessEnv = process.env,
): Promise<TemporalConnector> {
  const { options, security } = await temporalConnectionOptions(settings, env);
  return {
    description: describeTemporalSecurity(security),
    async connect(open) {
      try {
        return await open(options);
      } catch (err) {
        throw await explainConnectFailure(options, security, err);
      }
    },
  };
}
