import { describe, expect, it } from 'vitest';
import { move, type Lifecycle } from '../../../src/supervisor/lifecycle.js';
import { IllegalStateError } from '../../../src/util/index.js';

describe('lifecycle table', () => {
  it.each([
    ['recovering', 'running'],
    ['recovering', 'done'],
    ['idle', 'running'],
    ['running', 'stopping'],
    ['stopping', 'idle'],
    ['running', 'done'],
    ['done', 'idle'],
    ['running', 'running'],
  ] as [Lifecycle, Lifecycle][])('allows %s → %s', (from, to) => {
    expect(move(from, to, 'test')).toBe(to);
  });

  it.each([
    ['stopping', 'running'],
    ['stopping', 'done'],
    ['done', 'running'],
    ['idle', 'recovering'],
    ['idle', 'stopping'],
  ] as [Lifecycle, Lifecycle][])('refuses %s → %s with IllegalStateError', (from, to) => {
    expect(() => move(from, to, 'test')).toThrow(IllegalStateError);
  });
});
