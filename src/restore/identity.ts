import { KeyFormatError } from '../pipeline/age/errors.ts';
import { readIdentityFile, type Identity } from '../pipeline/age/keys.ts';
import { RestoreError } from './errors.ts';

export class IdentityFileError extends RestoreError {
  override name = 'IdentityFileError';
}

/** Reads the worker-side identity file; its problems are not worth a retry. Messages never hold key material. */
export async function loadIdentities(path: string): Promise<Identity[]> {
  try {
    return await readIdentityFile(path);
  } catch (err) {
    if (err instanceof KeyFormatError) throw new IdentityFileError(err.message, { cause: err });
    throw err;
  }
}
