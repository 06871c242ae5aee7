import { defineConfig } from '@playwright/test';

const port = 4173;

export default defineConfig({
	testDir: 'tests/e2e',
	testMatch: '**/*.e2e.ts',
	outputDir: 'test-results/e2e',
	reporter: [['list']],
	use: {
		baseURL: `http://127.0.0.1:${port}`,
		browserName: 'chromium',
		launchOptions: {
			// Playwright cannot download its own browsers everywhere; use the system Chromium.
			executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
			args: [
				'--no-sandbox',
				'--disable-gpu',
				'--disable-background-networking',
				'--disable-component-update',
				'--disable-sync'
			]
		}
	},
	webServer: {
		// The production server, built when needed, on a throw-away embedded database.
		command: 'node scripts/start.js',
		url: `http://127.0.0.1:${port}/readyz`,
		timeout: 180_000,
		reuseExistingServer: false,
		env: {
			PORT: String(port),
			HOST: '127.0.0.1',
			DATA_DIR: 'test-results/e2e-data',
			LOG_LEVEL: 'warn'
		}
	}
});
