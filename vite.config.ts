import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vitest/config';
import { realtimeDevServer } from './scripts/vite-realtime.ts';
import { scaled } from './tests/helpers/deadline.ts';

export default defineConfig({
	plugins: [sveltekit(), realtimeDevServer()],
	test: {
		expect: { requireAssertions: true },
		// PGlite instances are heavy; a few files at once keeps 2 cores busy without thrashing.
		maxWorkers: 2,
		// Stretched on a busy machine (its load per core, or TEST_TIMEOUT_SCALE): tests/helpers/deadline.ts.
		testTimeout: scaled(30_000),
		hookTimeout: scaled(120_000),
		// Stops what a failed or timed-out hook left running.
		setupFiles: ['tests/setup/stop-processes.ts'],
		projects: [
			{
				extends: true,
				test: {
					name: 'unit',
					include: [
						'src/**/*.test.ts',
						'tests/integration/**/*.test.ts',
						'tests/engine/**/*.test.ts',
						'tests/helpers/**/*.test.ts',
						'bench/**/*.test.ts'
					],
					globalSetup: ['tests/setup/global-setup.ts']
				}
			},
			{
				// Against the production build over real HTTP: the security suite and the API.
				extends: true,
				test: {
					name: 'http',
					include: ['tests/security/**/*.test.ts', 'tests/api/**/*.test.ts'],
					globalSetup: ['tests/setup/global-setup.ts', 'tests/setup/build-app.ts']
				}
			},
			{
				// Real worker processes killed, paused and cut off from a restarted PostgreSQL. Run on
				// their own (`npm run test:fault`): restarting the server would disturb other tests.
				extends: true,
				test: {
					name: 'fault',
					include: ['tests/fault/**/*.test.ts'],
					globalSetup: ['tests/setup/global-setup.ts'],
					testTimeout: scaled(120_000)
				}
			}
		]
	}
});
