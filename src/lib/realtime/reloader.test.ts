import { describe, expect, it, vi } from 'vitest';
import { createReloader } from './reloader';

describe('createReloader', () => {
	it('reloads at once, then once more for every request made meanwhile', async () => {
		const finishers: (() => void)[] = [];
		const reload = vi.fn(() => new Promise<void>((resolve) => finishers.push(resolve)));
		const reloader = createReloader(reload, 0);
		reloader.request();
		reloader.request();
		reloader.request();
		expect(reload).toHaveBeenCalledTimes(1);
		finishers.shift()?.();
		await vi.waitFor(() => expect(reload).toHaveBeenCalledTimes(2));
		finishers.shift()?.();
		reloader.stop();
		reloader.request();
		await new Promise((resolve) => setTimeout(resolve, 20));
		expect(reload).toHaveBeenCalledTimes(2);
	});
});
