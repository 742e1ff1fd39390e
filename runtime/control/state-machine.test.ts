// The job and worker state machines: only the listed transitions are legal, each one is logged,
// terminal states are final.
import { describe, expect, it } from 'vitest';
import { JOB_TRANSITIONS } from './job-state.ts';
import { IllegalTransition, StateMachine, assertTransition, canTransition } from './state-machine.ts';
import { TERMINAL_JOB_STATES, type JobState } from './types.ts';
import { WORKER_TRANSITIONS } from './worker-agent.ts';

describe('job state machine', () => {
  it('ends only in succeeded, failed or stopped, and never leaves them', () => {
    for (const s of TERMINAL_JOB_STATES) expect(JOB_TRANSITIONS[s]).toEqual([]);
    // A failure ends through stopping (every executor gone) unless nothing ran yet.
    expect(canTransition(JOB_TRANSITIONS, 'running', 'failed')).toBe(false);
    expect(canTransition(JOB_TRANSITIONS, 'stopping', 'failed')).toBe(true);
    expect(canTransition(JOB_TRANSITIONS, 'waiting', 'failed')).toBe(true);
    // A restart goes back to the rendezvous.
    expect(canTransition(JOB_TRANSITIONS, 'restarting', 'waiting')).toBe(true);
    expect(() => assertTransition(JOB_TRANSITIONS, 'job j', 'succeeded', 'running', 'x')).toThrow(IllegalTransition);
  });

  it('reaches every state from waiting', () => {
    const seen = new Set<JobState>(['waiting']);
    const todo: JobState[] = ['waiting'];
    while (todo.length) for (const n of JOB_TRANSITIONS[todo.pop()!]) if (!seen.has(n)) (seen.add(n), todo.push(n));
    expect([...seen].sort()).toEqual(Object.keys(JOB_TRANSITIONS).sort());
  });
});

describe('StateMachine', () => {
  it('logs legal transitions and refuses illegal ones', () => {
    const lines: string[] = [];
    const sm = new StateMachine('worker w1', 'connecting', WORKER_TRANSITIONS, (l) => lines.push(l));
    sm.to('idle', 'registered');
    sm.to('starting', 'job j');
    expect(() => sm.to('connecting', 'nope')).toThrow(/worker w1: illegal transition starting -> connecting \(nope\)/);
    expect(sm.state).toBe('starting');
    expect(lines).toEqual(['worker w1: connecting -> idle (registered)', 'worker w1: idle -> starting (job j)']);
    expect(WORKER_TRANSITIONS.exited).toEqual([]);
  });
});
