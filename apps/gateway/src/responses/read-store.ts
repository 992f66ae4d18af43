import { storeUnavailable } from "./errors.ts";
import { ResponseStoreUnavailableError } from "./store.ts";

/** A read a request needs: the store failing is the client's 503 (`response_store_unavailable`), not a 500. */
export async function readStore<T>(read: Promise<T>): Promise<T> {
  try {
    return await read;
  } catch (err) {
    if (err instanceof ResponseStoreUnavailableError) throw storeUnavailable();
    throw err;
  }
}
