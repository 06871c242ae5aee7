import { describe, expect, it } from 'vitest';
import { maxLoadScale, timeScale, waitUntil, WaitTimeoutError } from './deadline.ts';

const quiet = { load: 0.2, cpus: 2 };

describe('timeScale', () => {
	it('follows the load per core, from 1 up to a ceiling', () => {
		expect(timeScale({}, quiet)).toBe(1);
		expect(timeScale({}, { load: 2, cpus: 2 })).toBe(1);
		expect(timeScale({}, { load: 6, cpus: 2 })).toBe(3);
		expect(timeScale({}, { load: 40, cpus: 2 })).toBe(maxLoadScale);
	});

	it('takes TEST_TIMEOUT_SCALE over the load, and refuses one that is no positive number', () => {
		expect(timeScale({ TEST_TIMEOUT_SCALE: '10' }, quiet)).toBe(10);
		expect(timeScale({ TEST_TIMEOUT_SCALE: '0.5' }, { load: 40, cpus: 2 })).toBe(0.5);
		expect(timeScale({ TEST_TIMEOUT_SCALE: '' }, quiet)).toBe(1);
		for (const bad of ['0', '-1', 'slow', 'Infinity']) {
			expect(() => timeScale({ TEST_TIMEOUT_SCALE: bad }, quiet)).toThrow(
				`TEST_TIMEOUT_SCALE must be a positive number (e.g. 2 to double every deadline), not "${bad}".`
			);
		}
	});
});

describe('waitUntil', () => {
	const env = { TEST_TIMEOUT_SCALE: '1' };

	it('returns the first truthy value', async () => {
		let tries = 0;
		const value = await waitUntil(() => (++tries === 3 ? { tries } : null), {
			what: 'the third try',
			baseMs: 5_000,
			intervalMs: 1,
			env
		});
		expect(value).toEqual({ tries: 3 });
	});

	it('says what it waited for, how long and why, with the context, when the deadline passes', async () => {
		const waiting = waitUntil(() => false, {
			what: 'the server to answer',
			baseMs: 100,
			intervalMs: 10,
			context: () => 'its output:\nlistening soon',
			env: { TEST_TIMEOUT_SCALE: '1.5' }
		});
		await expect(waiting).rejects.toThrow(WaitTimeoutError);
		await expect(waiting).rejects.toThrow(
			/^the server to answer: gave up waiting after \d+\.\d s \(deadline 0\.1 s × 1\.5: TEST_TIMEOUT_SCALE=1\.5\)\nits output:\nlistening soon$/
		);
	});

	it('gives up at once when a failure is named', async () => {
		let tries = 0;
		const waiting = waitUntil(() => false, {
			what: 'the worker to be ready',
			baseMs: 60_000,
			intervalMs: 1,
			failure: () => (++tries === 2 ? 'it exited (1)' : null),
			env
		});
		await expect(waiting).rejects.toThrow(/^the worker to be ready: it exited \(1\) after /);
		expect(tries).toBe(2);
	});
});
