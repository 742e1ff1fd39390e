// Explicit state machines for long-lived things (a job, a worker agent): a named state type, a table
// of legal transitions, and one function that moves between states, refusing illegal moves and
// logging every legal one.

export type TransitionTable<S extends string> = Readonly<Record<S, readonly S[]>>;

export class IllegalTransition extends Error {
  constructor(what: string, from: string, to: string, reason: string) {
    super(`${what}: illegal transition ${from} -> ${to} (${reason})`);
    this.name = 'IllegalTransition';
  }
}

export function canTransition<S extends string>(table: TransitionTable<S>, from: S, to: S): boolean {
  return table[from].includes(to);
}

/** Throws IllegalTransition unless the table allows from -> to. */
export function assertTransition<S extends string>(table: TransitionTable<S>, what: string, from: S, to: S, reason: string): void {
  if (!canTransition(table, from, to)) throw new IllegalTransition(what, from, to, reason);
}

/** Where transitions are written: one line each. */
export type LogFn = (line: string) => void;

/** A state machine held in memory (the worker agent). Jobs keep their state in their record instead. */
export class StateMachine<S extends string> {
  private current: S;
  private readonly listeners: ((from: S, to: S, reason: string) => void)[] = [];

  constructor(
    private readonly what: string,
    initial: S,
    private readonly table: TransitionTable<S>,
    private readonly log: LogFn,
  ) {
    this.current = initial;
  }

  get state(): S {
    return this.current;
  }

  can(to: S): boolean {
    return canTransition(this.table, this.current, to);
  }

  /** Moves to `to` and logs it; throws IllegalTransition when the table forbids it. */
  to(to: S, reason: string): void {
    const from = this.current;
    assertTransition(this.table, this.what, from, to, reason);
    this.current = to;
    this.log(`${this.what}: ${from} -> ${to} (${reason})`);
    for (const l of this.listeners) l(from, to, reason);
  }

  onTransition(listener: (from: S, to: S, reason: string) => void): void {
    this.listeners.push(listener);
  }
}
