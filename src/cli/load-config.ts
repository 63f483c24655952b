import { loadConfigFile, resolveConfigPath, type Config } from '../config/index.ts';

/** The config every command but `keygen` starts from: --config FILE, else DOCKVAULT_CONFIG, else ./dockvault.yml. */
export function loadCliConfig(flag: string | undefined): Promise<Config> {
  return loadConfigFile(resolveConfigPath(flag));
}

export const configOption = { config: { type: 'string', short: 'c' } } as const;
