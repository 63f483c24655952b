import { commands } from './commands/index.ts';
import { UsageError } from './command.ts';
import { formatError } from './format-error.ts';
import { readSecretFiles } from './secret-files.ts';

const usage = `dockvault: backups of Docker volumes and PostgreSQL containers, encrypted, stored in S3, run by Temporal

Usage: dockvault <command> [options]

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(16)} ${c.summary}`)
  .join('\n')}

Run 'dockvault <command> --help' for the options of a command.`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`dockvault: unknown command '${name}'\n\n${usage}`);
    return 2;
  }
  readSecretFiles();
  return (await command.load()).run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(formatError(err));
    // Bad flags (ours, or node:util parseArgs's) are usage errors: exit 2, like other CLIs.
    const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.exitCode = usage ? 2 : 1;
  },
);
