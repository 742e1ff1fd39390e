// The one parser of executor stdout events: strict for runLocal, lenient for the worker agent.
import { describe, expect, it } from 'vitest';
import { parseExecutorEvent } from './executor-events.ts';

const step = '{"event":"step","rank":0,"step":2,"loss":null,"timeMs":5,"computeMs":4,"exposedCommMs":1,"memoryBytes":9,"samples":8,"tokens":64}';

describe('executor events', () => {
  it('both modes return a well-formed event as it is', () => {
    const want = { event: 'step', rank: 0, step: 2, loss: null, timeMs: 5, computeMs: 4, exposedCommMs: 1, memoryBytes: 9, samples: 8, tokens: 64 };
    expect(parseExecutorEvent(step, { strict: true })).toEqual(want);
    expect(parseExecutorEvent(step, { strict: false })).toEqual(want);
  });

  it('strict: anything but a well-formed event throws', () => {
    expect(() => parseExecutorEvent('Warning: something', { strict: true })).toThrow(/not JSON/);
    expect(() => parseExecutorEvent('[1,2]', { strict: true })).toThrow(/not an object/);
    expect(() => parseExecutorEvent('{"event":"hello"}', { strict: true })).toThrow(/unknown executor event/);
    expect(() => parseExecutorEvent('{"event":"ready","rank":0}', { strict: true })).toThrow(/number field "stage"/);
    expect(() => parseExecutorEvent('{"event":"checkpoint","step":1}', { strict: true })).toThrow(/without path/);
  });

  it('lenient: non-events are null, bad fields get defaults', () => {
    expect(parseExecutorEvent('Warning: something', { strict: false })).toBeNull();
    expect(parseExecutorEvent('[1,2]', { strict: false })).toBeNull();
    expect(parseExecutorEvent('{"event":"hello"}', { strict: false })).toBeNull();
    expect(parseExecutorEvent('{"event":"ready","rank":0}', { strict: false })).toEqual({ event: 'ready', rank: 0, stage: 0 });
    expect(parseExecutorEvent('{"event":"step","rank":1,"loss":"x"}', { strict: false })).toMatchObject({ step: 0, loss: null, timeMs: 0, tokens: 0 });
    expect(parseExecutorEvent('{"event":"checkpoint","step":4}', { strict: false })).toEqual({ event: 'checkpoint', step: 4, path: '' });
    expect(parseExecutorEvent('{"event":"error","rank":1}', { strict: false })).toEqual({ event: 'error', rank: 1, message: '{"event":"error","rank":1}' });
  });
});
