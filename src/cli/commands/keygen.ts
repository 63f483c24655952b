import { open, unlink } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { UsageError } from '../command.ts';
import type { Command } from '../command.ts';
import { formatIdentityFile, generateIdentity } from '../../pipeline/age/keys.ts';

const help = `Usage: dockvault keygen [-o FILE]

Generates an age X25519 identity (private key) for restores, in age-keygen's format.

  -o, --output FILE   write the identity to FILE (mode 0600, never overwritten) and print its
                      public key (age1...) to stdout: put that public key in the config
  -h, --help          show this help

Without -o the identity is printed to stdout and the public key to stderr, like age-keygen.`;

async function writeNewFile(path: string, text: string): Promise<void> {
  let file;
  try {
    // O_EXCL: an existing identity is never replaced, whatever races with us.
    file = await open(path, 'wx', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new Error(`keygen: ${path} already exists; refusing to overwrite an identity file`, {
        cause: err,
      });
    }
    throw new Error(`keygen: cannot create ${path} (${code ?? 'error'})`, { cause: err });
  }
  try {
    await file.chmod(0o600); // the umask may have narrowed the mode, never widened; make it exact.
    await file.writeFile(text);
    await file.sync();
  } catch (err) {
    await file.close();
    await unlink(path).catch(() => {}); // never leave a half-written identity behind
    throw err;
  }
  await file.close();
}

export const keygenCommand: Command = {
  async run(argv: string[]): Promise<number> {
    let values;
    try {
      ({ values } = parseArgs({
        args: argv,
        options: { output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } },
        allowPositionals: false,
        strict: true,
      }));
    } catch (err) {
      throw new UsageError(`keygen: ${(err as Error).message}\n\n${help}`);
    }
    if (values.help) {
      process.stdout.write(`${help}\n`);
      return 0;
    }
    const { identity, recipient } = generateIdentity();
    const text = formatIdentityFile(identity, recipient);
    if (values.output !== undefined) {
      if (values.output === '') throw new UsageError('keygen: -o needs a file name');
      await writeNewFile(values.output, text);
      process.stdout.write(`${recipient}\n`);
    } else {
      process.stdout.write(text);
      process.stderr.write(`Public key: ${recipient}\n`);
    }
    return 0;
  },
};
