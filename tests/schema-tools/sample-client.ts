// A small client written against the generated types (`beeflow.ts`, written next to this file
// by `cargo run -p example-quickstart -- schema typescript --out beeflow.ts`). The schema
// tests type-check it with `tsc --strict`; each `@ts-expect-error` line must stay an error,
// so types that degrade to `any` fail the check too.
import type {
  ActionEnvelope,
  Actions,
  EventEnvelope,
  Events,
  ProblemEnvelope,
} from "./beeflow";

type ActionName = keyof Actions;
type EventName = keyof Events;

function envelope<A extends ActionName>(action: A, payload: Actions[A]): ActionEnvelope {
  return { msg_id: crypto.randomUUID(), req_id: crypto.randomUUID(), action, payload };
}

export const requests: ActionEnvelope[] = [
  envelope("health", {}),
  envelope("echo", { text: "hello" }),
  envelope("countdown", { from: 3 }),
  envelope("whoami", {}),
];

// @ts-expect-error: `text` is a string
envelope("echo", { text: 42 });
// @ts-expect-error: `from` is required
envelope("countdown", {});
// @ts-expect-error: no such action
envelope("no_such_action", {});
export const subscribe = envelope("beeflow.subscribe", { topic: "lobby", presence: true });
// @ts-expect-error: `topic` is a string
envelope("beeflow.subscribe", { topic: 7 });

type Handlers = { [E in EventName]: (payload: Events[E], frame: EventEnvelope) => void };

const handlers: Handlers = {
  health: (payload) => console.log(payload.status.toUpperCase()),
  echo: (payload) => console.log(payload.text.length),
  countdown: (payload) => console.log(payload.remaining + 1),
  whoami: (payload) => console.log(payload.name),
  // Protocol version 2's built-in events are typed like the application's.
  "beeflow.presence": (payload) => console.log(payload.members.map((m) => m.user), payload.guests),
  "beeflow.join": (payload) => console.log(`${payload.user} entered ${payload.topic}`),
  "beeflow.leave": (payload) => console.log(`${payload.user} left ${payload.topic}`),
};

export function onFrame(text: string): void {
  const frame = JSON.parse(text) as EventEnvelope | ProblemEnvelope;
  if ("event" in frame) {
    const seq: number = frame.seq;
    const handler = handlers[frame.event as EventName] as (
      payload: unknown,
      frame: EventEnvelope,
    ) => void;
    handler?.(frame.payload, frame);
    console.log(seq, frame.req_id ?? "pushed");
  } else {
    const status: number = frame.status;
    console.error(`${frame.code} (${status}): ${frame.detail}`, frame.req_id);
  }
}

export const tick: Events["countdown"] = { remaining: 0 };
// @ts-expect-error: `remaining` is a number
export const badTick: Events["countdown"] = { remaining: "0" };
