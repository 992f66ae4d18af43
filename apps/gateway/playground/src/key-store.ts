/**
 * Where the page keeps the API key: sessionStorage, so it lives only as long as this tab and never reaches
 * localStorage, a cookie or a URL. The key leaves the tab only as the Authorization header of requests to the gateway.
 */

export interface KeyStore {
  get(): string | null;
  set(key: string): void;
  clear(): void;
}

const STORAGE_KEY = "slm-playground:api-key";

export function sessionKeyStore(storage: Storage = sessionStorage): KeyStore {
  return {
    get: () => storage.getItem(STORAGE_KEY),
    set: (key) => storage.setItem(STORAGE_KEY, key),
    clear: () => storage.removeItem(STORAGE_KEY),
  };
}
