import { expect, type Page } from '@playwright/test';

export const password = 'correct horse battery staple 42';
export const shots = 'test-results/e2e';

/**
 * Signs in as the instance's first account: a flow may run alone on a new database (then it signs
 * up) or after identity.e2e.ts, which made that account and closed sign-up to invitations.
 */
export async function signInAsOwner(page: Page) {
	await page.goto('/signup');
	if ((await page.getByText('This is the first account').count()) > 0) {
		await page.getByLabel('Name').fill('Ada Lovelace');
		await page.getByLabel('E-mail').fill('ada@example.com');
		await page.getByLabel(/^Password/).fill(password);
		await page.getByRole('button', { name: 'Create account' }).click();
	} else {
		await page.goto('/login');
		await page.getByLabel('E-mail').fill('ada@example.com');
		await page.getByLabel('Password').fill(password);
		await page.getByRole('button', { name: 'Sign in' }).click();
	}
	await expect(page).toHaveURL(/\/app$/);
}
