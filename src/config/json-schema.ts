import { z } from 'zod';
import { configSchema } from './schema.ts';

export const SCHEMA_ID = 'https://github.com/dockvault/dockvault/raw/main/schema/dockvault.schema.json';

/**
 * JSON Schema of what a user may write (zod's input side, so defaulted keys are optional), for
 * editors via `# yaml-language-server: $schema=...`. Committed as schema/dockvault.schema.json.
 */
export function configJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(configSchema, {
    io: 'input',
    target: 'draft-2020-12',
    unrepresentable: 'any',
  });
  const { $schema, ...rest } = generated;
  return {
    $schema,
    $id: SCHEMA_ID,
    title: 'dockvault configuration',
    description:
      'dockvault.yml: what to back up (backupDefinitions) and where. Secrets never live here: S3 credentials come from the environment or the AWS credential chain, age identities from files. String values may use ${VAR}, ${VAR:-default}; $$ is a literal $.',
    ...rest,
  };
}

/** The committed file's exact text: 2-space JSON and a trailing newline. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
