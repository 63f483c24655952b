import { createS3Store } from '../storage/s3-store.ts';
import type { BackupStore, S3Target } from '../storage/store.ts';

export type StoreFor = (target: S3Target) => BackupStore;

/** One store (and S3 client, with its connection pool) per distinct target, for the worker's lifetime. */
export function cachedStores(create: (target: S3Target) => BackupStore = createS3Store): StoreFor {
  const stores = new Map<string, BackupStore>();
  return (target) => {
    const key = JSON.stringify(target);
    let store = stores.get(key);
    if (!store) {
      store = create(target);
      stores.set(key, store);
    }
    return store;
  };
}
