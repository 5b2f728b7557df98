// Actions waiting to reach the API, kept in IndexedDB so that neither a lost network nor a closed tab loses them.
// Each keeps the Idempotency-Key it was given when the user acted: sending it twice gives one writeback, never two.

const DB = "sapext";
const STORE = "outbox";

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "key" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run(mode, work) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const transaction = db.transaction(STORE, mode);
      const result = work(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(result?.result);
      transaction.onerror = () => reject(transaction.error);
    });
  } finally {
    db.close();
  }
}

/** entry: {key, user, method, path, body, ifMatch, label, queuedAt} */
export const put = (entry) => run("readwrite", (store) => store.put(entry));
export const remove = (key) => run("readwrite", (store) => store.delete(key));

/** The user's waiting actions, oldest first: they are sent in the order they were taken. */
export async function waiting(user) {
  const all = (await run("readonly", (store) => store.getAll())) ?? [];
  return all.filter((entry) => entry.user === user).sort((a, b) => a.queuedAt - b.queuedAt);
}
