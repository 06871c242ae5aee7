import { defineConfig } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const port = 4173;
// A new embedded database for every run: the flows start from "no account yet".
const dataDir = process.env.E2E_DATA_DIR ?? mkdtempSync(path.join(tmpdir(), 'awe-e2e-'));
process.env.E2E_DATA_DIR = dataDir;

export default defineConfig({
	testDir: 'tests/e2e',
	// The flows build on one another: the first account, made by the identity flow, is the admin the
	// others sign in as, so that flow runs first whatever the file names.
	projects: [
		{ name: 'identity', testMatch: 'identity.e2e.ts' },
		{
			name: 'flows',
			testMatch: '**/*.e2e.ts',
			testIgnore: 'identity.e2e.ts',
			dependencies: ['identity']
		}
	],
	workers: 1,
	fullyParallel: false,
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
			DATA_DIR: dataDir,
			BCRYPT_COST: '10',
			LOG_LEVEL: 'warn'
		}
	}
});
