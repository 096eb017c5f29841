import type { FieldNode, FragmentDefinitionNode, GraphQLResolveInfo, SelectionSetNode } from 'graphql';

/**
 * Names of the fields requested at `path` below the current field (e.g. ['edges', 'node']),
 * following fragments. Lets a resolver read only the columns a query asks for.
 */
export function requestedFields(info: GraphQLResolveInfo, path: string[]): Set<string> {
  const out = new Set<string>();
  const visit = (set: SelectionSetNode | undefined, depth: number) => {
    if (!set) return;
    for (const sel of set.selections) {
      if (sel.kind === 'FragmentSpread') {
        const frag = info.fragments[sel.name.value] as FragmentDefinitionNode | undefined;
        visit(frag?.selectionSet, depth);
      } else if (sel.kind === 'InlineFragment') {
        visit(sel.selectionSet, depth);
      } else if (depth === path.length) {
        out.add(sel.name.value);
      } else if (sel.name.value === path[depth]) {
        visit(sel.selectionSet, depth + 1);
      }
    }
  };
  info.fieldNodes.forEach((f: FieldNode) => visit(f.selectionSet, 0));
  return out;
}
