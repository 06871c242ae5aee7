import { dictionary } from '@zxcvbn-ts/language-common';

// The ~49,000 most common passwords from leaked-password corpora, as ranked by zxcvbn-ts.
let common: Set<string> | undefined;

export function isCommonPassword(password: string): boolean {
	common ??= new Set(
		(dictionary['passwords-common'] as string[]).map((entry) => entry.toLowerCase())
	);
	return common.has(password.toLowerCase());
}

export function commonPasswordCount(): number {
	isCommonPassword('');
	return common?.size ?? 0;
}
