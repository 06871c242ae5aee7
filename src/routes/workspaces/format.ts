/** The same text on the server and in the browser (no locale or time-zone drift during hydration). */
export function formatDate(date: Date): string {
	return date.toISOString().slice(0, 10);
}

export function formatDateTime(date: Date): string {
	return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
