import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection } from '@temporalio/client';
import { definitionKey, hostKey, typeKey } from './search-attributes.ts';

/** temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD */
const KEYWORD = 2;
/** gRPC status ALREADY_EXISTS: another worker registered it first. */
const ALREADY_EXISTS = 6;

/**
 * Registers dockvault's search attributes in the namespace when they are missing, so any Temporal
 * cluster (a fresh compose deployment, an existing cluster) works without a manual step. Waits until
 * the server lists them: a workflow started with an unknown attribute is refused.
 */
export async function registerSearchAttributes(
  connection: Connection,
  namespace: string,
  log: (message: string) => void = () => {},
): Promise<void> {
  const names = [definitionKey.name, typeKey.name, hostKey.name];
  const listed = async () =>
    (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};
  let present = await listed();
  const absent = names.filter((name) => !(name in present));
  if (absent.length === 0) return;
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(absent.map((name) => [name, KEYWORD])),
    });
  } catch (err) {
    if ((err as { code?: number }).code !== ALREADY_EXISTS) {
      throw new Error(
        `cannot register the search attributes ${absent.join(', ')} in namespace ${namespace}: ${(err as Error).message}` +
          ' (register them as Keyword with `temporal operator search-attribute create`)',
        { cause: err },
      );
    }
  }
  for (let attempt = 0; attempt < 60; attempt++) {
    present = await listed();
    if (absent.every((name) => name in present)) {
      log(`dockvault worker: registered search attributes ${absent.join(', ')} in namespace ${namespace}`);
      return;
    }
    await sleep(500);
  }
  throw new Error(
    `the search attributes ${absent.join(', ')} did not appear in namespace ${namespace} within 30 s`,
  );
}
