// What a database error says, without the statement and its parameters (drizzle puts both in
// the message of the error it wraps around the driver's).

/** The SQLSTATE of a driver error (postgres.js or PGlite), looked up through wrapping errors. */
export function sqlState(error: unknown): string | null {
	for (let current = error, depth = 0; current instanceof Error && depth < 5; depth += 1) {
		const code = (current as { code?: unknown }).code;
		if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
		current = current.cause;
	}
	return null;
}

/**
 * A failure that trying the same statement again cannot fix: the data itself is refused (class 22,
 * data exception) or too big (class 54, program limit exceeded).
 */
export function isPermanentDataError(error: unknown): boolean {
	const state = sqlState(error);
	return state !== null && (state.startsWith('22') || state.startsWith('54'));
}

/** The driver's own message, short, for a step's error or a log line. */
export function databaseMessage(error: unknown, maxLength = 300): string {
	let current = error;
	while (current instanceof Error && current.cause instanceof Error) current = current.cause;
	const message = current instanceof Error ? current.message : String(current);
	return message.length > maxLength ? `${message.slice(0, maxLength)}…` : message;
}

/**
 * The constraint or index a failed statement broke with SQLSTATE `state` (23505: unique, 23503:
 * foreign key), looked up through wrapping errors; null for any other failure.
 */
export function violatedConstraint(error: unknown, state: '23503' | '23505'): string | null {
	let cause = error;
	for (let depth = 0; depth < 5 && typeof cause === 'object' && cause !== null; depth += 1) {
		const { code, constraint, constraint_name } = cause as Record<string, unknown>;
		// postgres.js names it in `constraint_name`, PGlite in `constraint`.
		if (code === state) {
			const name = constraint_name ?? constraint;
			return typeof name === 'string' ? name : null;
		}
		cause = (cause as { cause?: unknown }).cause;
	}
	return null;
}
