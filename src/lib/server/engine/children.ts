// Child steps: work a step (an agent) does as steps of their own, so each piece is journaled and a
// crashed worker loses at most the piece in flight. A child shares its parent's node and iteration
// and has a path below the parent's: turn 3 of an agent is `t3`, its second tool call `t3.c1`; a
// child of `t3.c1` (a nested agent's turn) is `t3.c1/t0`. The parent parks (waiting, no timer)
// while its children run and is woken when the last of them finishes, like a map by its iterations.

/** The path of the step a child belongs to ('' for a node's own step or a map iteration). */
export function parentPath(path: string): string {
	const slash = path.lastIndexOf('/');
	return slash < 0 ? '' : path.slice(0, slash);
}

/** The full path of a child named `name` (e.g. `t3`, `t3.c1`) under the step at `parent`. */
export function childPath(parent: string, name: string): string {
	return parent === '' ? name : `${parent}/${name}`;
}
