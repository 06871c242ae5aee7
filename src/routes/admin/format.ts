/** The same text on the server and in the browser (no locale or time-zone drift during hydration). */
export function formatDate(date: Date): string {
	return date.toISOString().slice(0, 10);
}

export function formatDateTime(date: Date): string {
	return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** To the second, without the zone (for tables whose heading says UTC). */
export function formatTimestamp(date: Date): string {
	return date.toISOString().slice(0, 19).replace('T', ' ');
}
