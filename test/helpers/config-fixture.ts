// A config for unit tests of what is built from it: one recipient, an S3 endpoint from the environment.
import { parseConfig } from '../../src/config/index.ts';

export const fixtureEnv = { DOCKVAULT_S3_ENDPOINT: 'http://127.0.0.1:7070' };

/** `definitions`: the YAML list items under backupDefinitions, indented by two spaces. */
/** `top`: more top-level YAML, e.g. `hosts:`. */
export function fixtureConfig(definitions: string, top = '') {
  return parseConfig(
    `${top}encryption:
  recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p]
backupDefinitions:
${definitions}`,
    'dockvault.yml',
    fixtureEnv,
  );
}
