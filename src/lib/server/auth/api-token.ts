import { randomToken, sha256Hex } from '../platform/crypto.ts';

export const apiTokenPrefix = 'awe_';

export function generateApiToken(): { token: string; hash: string; hint: string } {
	const token = apiTokenPrefix + randomToken(24);
	return { token, hash: sha256Hex(token), hint: token.slice(-4) };
}

export function apiTokenHash(token: string): string | null {
	return /^awe_[a-z2-7]{39}$/.test(token) ? sha256Hex(token) : null;
}
