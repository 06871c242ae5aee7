import adapter from '@sveltejs/adapter-node';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
	preprocess: vitePreprocess(),
	compilerOptions: {
		// Runes everywhere in our own code; libraries decide for themselves.
		runes: ({ filename }) => (filename.split(/[/\\]/).includes('node_modules') ? undefined : true)
	},
	kit: {
		adapter: adapter({ out: 'build' }),
		// Kit's cross-site form check cannot exempt a route, and webhooks (/hooks/*) take form posts
		// from other servers: the same check runs as a handle instead (src/lib/server/hooks/form-origin.ts).
		csrf: { trustedOrigins: ['*'] },
		csp: {
			mode: 'auto',
			directives: {
				'default-src': ['self'],
				'script-src': ['self'],
				'style-src': ['self'],
				// Style attributes only (Svelte's `style:` directive, the route announcer); <style> stays blocked.
				'style-src-attr': ['unsafe-inline'],
				'img-src': ['self', 'data:'],
				'font-src': ['self'],
				'connect-src': ['self'],
				'object-src': ['none'],
				'base-uri': ['self'],
				'form-action': ['self'],
				'frame-ancestors': ['none']
			}
		},
		typescript: {
			config: (tsconfig) => {
				tsconfig.include.push(
					'../drizzle.config.ts',
					'../playwright.config.ts',
					'../.dependency-cruiser.js',
					'../server.js',
					'../scripts/**/*',
					'../bench/**/*',
					'../tests/**/*'
				);
				// Wrong-way imports on purpose, cruised by tests/integration/layers.test.ts, not compiled.
				tsconfig.exclude.push('../tests/fixtures/**');
			}
		}
	}
};

export default config;
