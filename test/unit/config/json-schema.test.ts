import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { configJsonSchema, configJsonSchemaText } from '../../../src/config/json-schema.ts';

describe('JSON Schema', () => {
  it('the committed schema/dockvault.schema.json is current (regenerate: node scripts/generate-schema.ts)', async () => {
    const committed = await readFile(
      new URL('../../../schema/dockvault.schema.json', import.meta.url),
      'utf8',
    );
    assert.equal(committed, configJsonSchemaText());
  });

  it('describes the input side: defaulted keys are optional, objects are closed', () => {
    const schema = configJsonSchema() as {
      $schema: string;
      title: string;
      required: string[];
      additionalProperties: boolean;
      properties: Record<string, unknown>;
    };
    assert.match(schema.$schema, /json-schema\.org/);
    assert.equal(schema.title, 'dockvault configuration');
    assert.deepEqual(schema.required, ['backupDefinitions']);
    assert.equal(schema.additionalProperties, false);
    assert.ok('s3' in schema.properties && 'retention' in schema.properties);
  });
});
