import { z } from 'zod';

export const email = z
	.string({ error: 'Required.' })
	.trim()
	.toLowerCase()
	.max(254, 'Too long.')
	.pipe(z.email({ error: 'Enter a valid e-mail address.' }));

export const displayName = z
	.string({ error: 'Required.' })
	.trim()
	.min(1, 'Required.')
	.max(100, 'Use at most 100 characters.');

// Length and common-password checks happen on the server (passwordProblem), with one message.
const password = z.string({ error: 'Required.' }).min(1, 'Required.').max(1024, 'Too long.');

export const signUpSchema = z.object({
	name: displayName,
	email,
	password,
	invite: z.string().max(200).optional()
});

export const signInSchema = z.object({ email, password });

export const codeSchema = z.object({
	code: z
		.string({ error: 'Required.' })
		.trim()
		.min(6, 'Enter the 6-digit code or a recovery code.')
		.max(64)
});

export const passwordChangeSchema = z
	.object({ currentPassword: password, newPassword: password, confirmPassword: z.string() })
	.refine((value) => value.newPassword === value.confirmPassword, {
		path: ['confirmPassword'],
		message: 'The two new passwords differ.'
	});

export const profileSchema = z.object({ name: displayName, email });
