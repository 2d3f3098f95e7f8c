/**
 * Given/when/then for deciders, runner-agnostic (ported in spirit from Emmett's DeciderSpecification).
 * Exported from the `./testing` subpath only, never from the runtime barrel.
 */
export interface Decider<State, Command, Event> {
  decide: (command: Command, state: State) => Event | Event[];
  evolve: (state: State, event: Event) => State;
  initialState: () => State;
}

export const DeciderSpecification = {
  for<State, Command, Event>(decider: Decider<State, Command, Event>) {
    return (given: Event[]) => ({
      when: (command: Command) => {
        const run = (): Event[] => {
          const state = given.reduce(decider.evolve, decider.initialState());
          const out = decider.decide(command, state);
          return Array.isArray(out) ? out : [out];
        };
        return {
          then: (expected: Event[]) => {
            const actual = run();
            if (JSON.stringify(actual) !== JSON.stringify(expected)) {
              throw new Error(`expected ${JSON.stringify(expected)}\nreceived ${JSON.stringify(actual)}`);
            }
          },
          thenNothingHappened: () => {
            const actual = run();
            if (actual.length !== 0) throw new Error(`expected no events, received ${JSON.stringify(actual)}`);
          },
          thenThrows: <E extends Error>(errorType: new (...args: never[]) => E, check?: (e: E) => boolean) => {
            try {
              run();
            } catch (err) {
              if (!(err instanceof errorType)) throw new Error(`expected ${errorType.name}, got ${String(err)}`);
              if (check && !check(err)) throw new Error(`error did not match: ${err.message}`);
              return;
            }
            throw new Error(`expected ${errorType.name} to be thrown`);
          },
        };
      },
    });
  },
};
