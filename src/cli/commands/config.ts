import { parseArgs } from 'node:util';
import { UsageError } from '../command.ts';
import type { Command } from '../command.ts';
import {
  ConfigError,
  configJsonSchemaText,
  describePlan,
  loadConfigFile,
  resolveConfigPath,
} from '../../config/index.ts';
import type { Config } from '../../config/index.ts';
import type { SelectorCheck } from '../../selectors/check.ts';
import { describeTemporalSecurity, temporalConnectionOptions } from '../../temporal/connection-options.ts';
import { TemporalCredentialsError } from '../../temporal/errors.ts';

/** Only a config with selectors needs the engine (and its client's modules). */
async function checkSelectorsHere(config: Config): Promise<Map<string, SelectorCheck>> {
  if (!config.backupDefinitions.some((d) => d.compose !== undefined || d.labels !== undefined))
    return new Map();
  const [{ checkSelectors }, { createDockerClient }] = await Promise.all([
    import('../../selectors/check.ts'),
    import('../../docker/client.ts'),
  ]);
  return checkSelectors(config, createDockerClient());
}

const usage = `Usage:
  dockvault config check [FILE] [--config FILE]   validate the config and print what it will do; definitions
                                                  with compose/labels selectors are resolved against this
                                                  machine's Docker engine (exit 1 when one does not resolve)
  dockvault config schema                         print the JSON Schema of the config file

The config file is FILE, else --config, else env DOCKVAULT_CONFIG, else ./dockvault.yml.`;

async function check(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  if (positionals.length > 1)
    throw new UsageError(`config check takes one FILE, got ${positionals.length}\n\n${usage}`);
  const file = resolveConfigPath(positionals[0] ?? values.config);
  try {
    const config = await loadConfigFile(file);
    // Reads the TLS files and API key as every command will, so a bad path fails here, named.
    const { security } = await temporalConnectionOptions(config.temporal);
    const checks = await checkSelectorsHere(config);
    console.log(`${file}: OK\n\n${describePlan(config, checks, describeTemporalSecurity(security))}`);
    const unresolved = [...checks.values()].filter((c) => 'error' in c).length;
    if (unresolved === 0) return 0;
    console.error(`${file}: ${unresolved} selector(s) do not resolve on this machine's Docker engine`);
    return 1;
  } catch (err) {
    if (err instanceof TemporalCredentialsError) {
      console.error(`${file}: ${err.message}`);
      return 1;
    }
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    return 1;
  }
}

function schema(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  console.log(configJsonSchemaText().trimEnd());
  return 0;
}

export const configCommand: Command = {
  async run(argv) {
    const [sub, ...rest] = argv;
    try {
      if (sub === 'check') return await check(rest);
      if (sub === 'schema') return schema(rest);
    } catch (err) {
      // parseArgs reports unknown flags with its own error type; to the user it is a usage error.
      if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
        throw new UsageError(`${err.message}\n\n${usage}`);
      }
      throw err;
    }
    if (sub === undefined || sub === '--help' || sub === '-h') {
      console.log(usage);
      return sub === undefined ? 2 : 0;
    }
    throw new UsageError(`unknown config subcommand '${sub}'\n\n${usage}`);
  },
};
