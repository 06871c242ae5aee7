import type { StepContext } from './types.ts';

const notExpected = () => Promise.reject(new Error('This lookup was not expected.'));

/** A step context for executing a kind in tests; lookups reject unless overridden. */
export function stepContext(overrides: Partial<StepContext> = {}): StepContext {
	return {
		runId: 'run-1',
		workspaceId: 'workspace-1',
		nodeId: 'node',
		iteration: -1,
		path: '',
		attempt: 1,
		idempotencyKey: 'run-1:node:-1',
		input: null,
		data: { input: {}, steps: {} },
		state: null,
		budget: null,
		signal: new AbortController().signal,
		now: () => new Date('2030-01-01T00:00:00.000Z'),
		lookup: {
			approval: notExpected,
			childRun: notExpected,
			iterations: notExpected,
			children: notExpected,
			spending: notExpected
		},
		conceal: () => {},
		stream: () => {},
		...overrides
	};
}

/** Values that are syntax in JSON, URLs, forms or headers: templates must insert them as data. */
export const awkwardValues: Record<string, string> = {
	quote: 'say "hi"',
	backslash: 'C:\\temp\\',
	newline: 'one\ntwo\r\n',
	brace: '} {',
	template: '{{ input.secret }}',
	ampersand: 'a&b=c',
	question: 'why?',
	slash: 'a/b',
	hash: '#top',
	percent: '100% %41',
	nonAscii: 'Zoë 東京 🚀',
	injection: '", "admin": true, "x": "'
};

/** Not valid Unicode: templates insert U+FFFD for the lone surrogate. */
export const loneSurrogate = { value: 'bad \ud800 end', inserted: 'bad \ufffd end' };
