import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vitest/config';

export default defineConfig({
	plugins: [sveltekit()],
	test: {
		expect: { requireAssertions: true },
		include: ['src/**/*.test.ts', 'tests/**/*.test.ts'],
		globalSetup: ['tests/setup/global-setup.ts'],
		// PGlite instances are heavy; a few files at once keeps 2 cores busy without thrashing.
		maxWorkers: 2,
		testTimeout: 30_000,
		hookTimeout: 60_000
	}
});
