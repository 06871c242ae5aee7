import { expect, test } from '@playwright/test';

test('the landing page shows the product and a way to sign in, within its CSP', async ({
	page
}) => {
	const violations: string[] = [];
	page.on('console', (message) => {
		if (message.type() === 'error') violations.push(message.text());
	});
	const response = await page.goto('/');
	expect(response?.status()).toBe(200);
	expect(response?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
	await expect(page.getByRole('heading', { level: 1 })).toHaveText('AWE');
	// What is on offer today, and nothing that is not there yet.
	await expect(page.getByText(/Not there yet: agent steps/)).toBeVisible();
	await page.screenshot({ path: 'test-results/e2e/landing.png', fullPage: true });
	await page.getByRole('link', { name: 'Sign in' }).click();
	await expect(page).toHaveURL(/\/login$/);
	expect(violations).toEqual([]);
});

test('health endpoints answer', async ({ request }) => {
	expect((await request.get('/healthz')).status()).toBe(200);
	const ready = await request.get('/readyz');
	expect(ready.status()).toBe(200);
	expect(await ready.json()).toMatchObject({ status: 'ready' });
});
