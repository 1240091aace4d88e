// A hand-written API of the quickstart, as generated code would type it.
export interface Api {
  actions: {
    echo: { text: string };
    countdown: { from: number };
  };
  events: {
    echo: { text: string };
    countdown: { remaining: number };
  };
}
