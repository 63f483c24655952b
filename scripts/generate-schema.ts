// Regenerates schema/dockvault.schema.json from the zod schema: node scripts/generate-schema.ts
import { writeFile } from 'node:fs/promises';
import { configJsonSchemaText } from '../src/config/json-schema.ts';

const target = new URL('../schema/dockvault.schema.json', import.meta.url);
await writeFile(target, configJsonSchemaText());
console.log(`wrote ${target.pathname}`);
