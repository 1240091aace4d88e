import { Client } from "../../src/index.js";
import type { Api } from "./api.js";

export async function wrong(client: Client<Api>): Promise<void> {
  // `text` is a string: tsc must refuse this call.
  await client.request("echo", { text: 1 });
  // No such action.
  await client.request("ehco", { text: "hi" });
  // An event's payload is typed too.
  client.on("countdown", (payload) => payload.text);
}
