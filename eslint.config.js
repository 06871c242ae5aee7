import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import svelte from 'eslint-plugin-svelte';
import { defineConfig, includeIgnoreFile } from 'eslint/config';
import globals from 'globals';
import path from 'node:path';
import ts from 'typescript-eslint';
import svelteConfig from './svelte.config.js';

const gitignorePath = path.resolve(import.meta.dirname, '.gitignore');

export default defineConfig(
	includeIgnoreFile(gitignorePath),
	// The layer fixtures import the wrong way on purpose: data for tests/integration/layers.test.ts.
	{ ignores: ['drizzle/', 'tests/fixtures/'] },
	js.configs.recommended,
	ts.configs.recommended,
	svelte.configs.recommended,
	prettier,
	svelte.configs.prettier,
	{
		languageOptions: {
			globals: { ...globals.browser, ...globals.node },
			parserOptions: {
				projectService: {
					allowDefaultProject: ['eslint.config.js', 'prettier.config.js', 'svelte.config.js']
				},
				tsconfigRootDir: import.meta.dirname
			}
		},
		rules: {
			// TypeScript checks undefined names better than this rule can (typescript-eslint FAQ).
			'no-undef': 'off',
			'@typescript-eslint/no-floating-promises': 'error',
			'@typescript-eslint/no-misused-promises': 'error',
			'@typescript-eslint/await-thenable': 'error',
			'@typescript-eslint/consistent-type-imports': 'error'
		}
	},
	{
		files: ['**/*.svelte', '**/*.svelte.ts', '**/*.svelte.js'],
		languageOptions: {
			parserOptions: {
				extraFileExtensions: ['.svelte'],
				parser: ts.parser,
				svelteConfig
			}
		}
	},
	{
		// The layer rules (.dependency-cruiser.js) cannot see a type-only import in a component: the
		// Svelte compiler drops it before the cruiser reads the module.
		files: ['**/*.svelte'],
		rules: {
			'no-restricted-imports': [
				'error',
				{
					patterns: [
						{
							regex: '^(\\$lib/server|(\\.\\.?/)+(.+/)?server)(/|$)',
							message: 'Browser code imports nothing from lib/server, not even a type.'
						}
					]
				}
			]
		}
	},
	{
		files: ['**/*.js'],
		rules: { '@typescript-eslint/consistent-type-imports': 'off' }
	}
);
