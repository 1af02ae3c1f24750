// The queueMicrotask global: callbacks run as microtasks; one that throws is reported on the
// console (there is no window.onerror) and does not stop the others.
import { G } from './primordials.ts';
import { ReflectApply, PromiseCtor, PromisePrototypeThen, TypeErrorCtor } from './primordials.ts';
import { describeReceived } from './inspect.ts';

export const resolvedPromise = ReflectApply(PromiseCtor.resolve, PromiseCtor, [undefined]);

export function reportMicrotaskError(err) {
  // There is no window.onerror here; the console (installed by the host) is the only witness.
  try {
    const c = G.console as { error?: (...args: unknown[]) => void } | null;
    if (c !== null && typeof c === 'object' && typeof c.error === 'function') c.error('Uncaught', err);
  } catch {}
}

export function queueMicrotask(callback) {
  if (typeof callback !== 'function') {
    throw new TypeErrorCtor('The "callback" argument must be of type function. ' + describeReceived(callback));
  }
  PromisePrototypeThen(resolvedPromise, () => {
    try {
      ReflectApply(callback, undefined, []);
    } catch (err) {
      reportMicrotaskError(err);
    }
  });
}

