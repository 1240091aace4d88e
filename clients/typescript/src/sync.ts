// Synced state (docs/protocol.md §6.6): a live copy of a server value, kept by applying the
// server's JSON Patch events in version order and asking for a snapshot whenever one is
// missing.

/** What a synced state needs of the client. */
export interface SyncHost {
  on(event: string, handler: (payload: any) => void): () => void;
  onState(listener: (state: string) => void): () => void;
  connected(): Promise<void>;
  request(action: string, payload: unknown): Promise<unknown>;
}

/** A server value kept in sync: read `value`, follow it with `onChange`. */
export interface SyncedState<S> {
  readonly key: string;
  /** The state, once the first snapshot arrived. */
  readonly value: S | undefined;
  /** Its version: 0 until the first snapshot. */
  readonly version: number;
  /** Resolves once the first snapshot is applied. */
  readonly ready: Promise<void>;
  /** Calls `listener` after every change; returns a function that stops it. */
  onChange(listener: (value: S, version: number) => void): () => void;
  /** Stops following the state. */
  close(): void;
}

interface Patch {
  key: string;
  base: number;
  version: number;
  ops: Operation[];
}

interface Snapshot {
  key: string;
  version: number;
  state: unknown;
}

/** One RFC 6902 operation. */
export interface Operation {
  op: "add" | "remove" | "replace" | "move" | "copy" | "test";
  path: string;
  from?: string;
  value?: unknown;
}

export function followState<S>(host: SyncHost, key: string): SyncedState<S> {
  let value: S | undefined;
  let version = 0;
  let fetching: Promise<unknown> | undefined;
  const listeners = new Set<(value: S, version: number) => void>();
  const changed = () => {
    for (const listener of listeners) listener(value as S, version);
  };
  // With `version`, the server answers only if it has a newer one.
  const fetch = (): Promise<unknown> =>
    (fetching ??= host
      .request("beeflow.state.get", value === undefined ? { key } : { key, version })
      .finally(() => (fetching = undefined)));
  const offs = [
    host.on("beeflow.state.snapshot", (snapshot: Snapshot) => {
      if (snapshot.key !== key || (value !== undefined && snapshot.version <= version)) return;
      value = snapshot.state as S;
      version = snapshot.version;
      changed();
    }),
    host.on("beeflow.state.patch", (patch: Patch) => {
      if (patch.key !== key || patch.version <= version) return;
      if (value === undefined || patch.base !== version) {
        fetch().catch(() => {});
        return;
      }
      try {
        value = applyPatch(value, patch.ops) as S;
      } catch {
        value = undefined;
        fetch().catch(() => {});
        return;
      }
      version = patch.version;
      changed();
    }),
    // After a reconnect (and the subscriptions' replays, sent before "open" is told): fetch
    // only what recovery did not bring.
    host.onState((state) => {
      if (state === "open") fetch().catch(() => {});
    }),
  ];
  const ready = host.connected().then(() => fetch()).then(() => {});
  return {
    key,
    get value() {
      return value;
    },
    get version() {
      return version;
    },
    ready,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      for (const off of offs) off();
      listeners.clear();
    },
  };
}

/** Applies RFC 6902 `ops` to `document` (changed in place where it can) and returns it. */
export function applyPatch(document: unknown, ops: Operation[]): unknown {
  for (const op of ops) {
    switch (op.op) {
      case "add":
        document = put(document, op.path, op.value, true);
        break;
      case "replace":
        document = put(document, op.path, op.value, false);
        break;
      case "remove":
        document = take(document, op.path).document;
        break;
      case "move": {
        const taken = take(document, op.from as string);
        document = put(taken.document, op.path, taken.value, true);
        break;
      }
      case "copy":
        document = put(document, op.path, structuredClone(get(document, op.from as string)), true);
        break;
      case "test":
        if (JSON.stringify(get(document, op.path)) !== JSON.stringify(op.value)) {
          throw new Error(`test failed at ${op.path}`);
        }
        break;
      default:
        throw new Error(`unknown operation ${(op as Operation).op}`);
    }
  }
  return document;
}

function tokens(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) throw new Error(`bad JSON pointer ${path}`);
  return path
    .slice(1)
    .split("/")
    .map((token) => token.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function get(document: unknown, path: string): unknown {
  let node: any = document;
  for (const token of tokens(path)) {
    if (node === null || typeof node !== "object" || !Object.hasOwn(node, token)) throw new Error(`no ${path}`);
    node = node[token];
  }
  return node;
}

/** The parent of `path` and the last token; the root has no parent. */
function parentOf(document: unknown, path: string): [any, string] {
  const all = tokens(path);
  const last = all.pop() as string;
  const parent: any = all.length === 0 ? document : get(document, `/${all.map(escape).join("/")}`);
  if (parent === null || typeof parent !== "object") throw new Error(`no parent for ${path}`);
  return [parent, last];
}

function escape(token: string): string {
  return token.replaceAll("~", "~0").replaceAll("/", "~1");
}

function put(document: unknown, path: string, value: unknown, insert: boolean): unknown {
  if (path === "") return value;
  const [parent, last] = parentOf(document, path);
  if (Array.isArray(parent)) {
    const index = last === "-" ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length - (insert ? 0 : 1)) {
      throw new Error(`bad index in ${path}`);
    }
    parent.splice(index, insert ? 0 : 1, value);
  } else {
    if (!insert && !Object.hasOwn(parent, last)) throw new Error(`no ${path}`);
    // Defined, not assigned: a key named `__proto__` is data here, as in JSON.
    Object.defineProperty(parent, last, { value, writable: true, enumerable: true, configurable: true });
  }
  return document;
}

function take(document: unknown, path: string): { document: unknown; value: unknown } {
  const [parent, last] = parentOf(document, path);
  const value = get(document, path);
  if (Array.isArray(parent)) parent.splice(Number(last), 1);
  else delete parent[last];
  return { document, value };
}
