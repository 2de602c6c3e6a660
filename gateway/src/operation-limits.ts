// Limits on what one operation may ask of the gateway, so a single request cannot exhaust it
// or multiply its effect: tokens (checked by the lexer before anything is parsed), depth,
// aliases, root fields, directives, and a cost estimate in which a list's `first` multiplies
// the cost of what it contains. All answer GRAPHQL_VALIDATION_FAILED with HTTP 400.

import {
  type ASTVisitor,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  getNamedType,
  isInterfaceType,
  isObjectType,
  Kind,
  Lexer,
  type OperationDefinitionNode,
  type SelectionSetNode,
  Source,
  TokenKind,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

export interface OperationLimits {
  readonly maxTokens: number;
  readonly maxDepth: number;
  readonly maxAliases: number;
  readonly maxRootFields: number;
  readonly maxDirectives: number;
  readonly maxCost: number;
  /** The `first` assumed when it is a variable: the most a connection pages. */
  readonly maxPageSize: number;
}

function limitError(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
}

/** Counts tokens with graphql's own lexer, stopping as soon as the limit is passed. */
export function checkTokens(query: string, maxTokens: number): string | null {
  const lexer = new Lexer(new Source(query));
  let count = 0;
  try {
    for (let token = lexer.advance(); token.kind !== TokenKind.EOF; token = lexer.advance()) {
      count += 1;
      if (count > maxTokens) return `The operation has more than ${maxTokens} tokens.`;
    }
  } catch {
    return null; // a syntax error: let the parser report it
  }
  return null;
}

interface Walk {
  readonly fragments: Readonly<Record<string, FragmentDefinitionNode>>;
  /** Fragments on the current path: a cycle is reported by graphql's own NoFragmentCycles rule. */
  readonly path: Set<string>;
}

/** Every field of a selection set, with fragments inlined (each at most once per path). */
function* fieldsOf(selectionSet: SelectionSetNode, walk: Walk): Generator<{ field: FieldNode; typeCondition: string | undefined }> {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) yield { field: selection, typeCondition: undefined };
    else if (selection.kind === Kind.INLINE_FRAGMENT) {
      for (const inner of fieldsOf(selection.selectionSet, walk)) yield { ...inner, typeCondition: inner.typeCondition ?? selection.typeCondition?.name.value };
    } else {
      const name = selection.name.value;
      const fragment = walk.fragments[name];
      if (!fragment || walk.path.has(name)) continue;
      walk.path.add(name);
      for (const inner of fieldsOf(fragment.selectionSet, walk)) yield { ...inner, typeCondition: inner.typeCondition ?? fragment.typeCondition.name.value };
      walk.path.delete(name);
    }
  }
}

function depthOf(selectionSet: SelectionSetNode | undefined, walk: Walk, stopAt: number): number {
  if (!selectionSet) return 0;
  let deepest = 0;
  for (const { field } of fieldsOf(selectionSet, walk)) {
    if (field.name.value.startsWith('__')) continue;
    deepest = Math.max(deepest, 1 + (deepest >= stopAt ? 0 : depthOf(field.selectionSet, walk, stopAt - 1)));
    if (deepest > stopAt) break;
  }
  return deepest;
}

function fieldDefinition(type: GraphQLNamedType | undefined, name: string): GraphQLField<unknown, unknown> | undefined {
  return type && (isObjectType(type) || isInterfaceType(type)) ? type.getFields()[name] : undefined;
}

/** How many items a list field may return: its `first` argument (a literal, or the maximum for a variable), else its default, else 1. */
function multiplierOf(field: FieldNode, definition: GraphQLField<unknown, unknown> | undefined, limits: OperationLimits): number {
  const argument = field.arguments?.find((arg) => arg.name.value === 'first');
  if (argument?.value.kind === Kind.INT) return Math.max(1, Number(argument.value.value));
  if (argument?.value.kind === Kind.VARIABLE) return limits.maxPageSize;
  const fallback = definition?.args.find((arg) => arg.name === 'first')?.defaultValue;
  return typeof fallback === 'number' ? fallback : 1;
}

function costOf(
  selectionSet: SelectionSetNode | undefined,
  parent: GraphQLNamedType | undefined,
  schema: GraphQLSchema,
  walk: Walk,
  limits: OperationLimits,
  budget: number,
): number {
  if (!selectionSet) return 0;
  let total = 0;
  for (const { field, typeCondition } of fieldsOf(selectionSet, walk)) {
    if (field.name.value.startsWith('__')) continue;
    const owner = typeCondition ? schema.getType(typeCondition) : parent;
    const definition = fieldDefinition(owner, field.name.value);
    const child = definition ? getNamedType(definition.type) : undefined;
    const inner = costOf(field.selectionSet, child, schema, walk, limits, budget);
    total += 1 + multiplierOf(field, definition, limits) * inner;
    if (total > budget) return total; // no need to add up the rest of a bomb
  }
  return total;
}

/** The validation rules that enforce the limits; Apollo Server runs them after the standard ones. */
export function operationLimitRules(limits: OperationLimits): ValidationRule[] {
  const rule =
    (check: (operation: OperationDefinitionNode, context: ValidationContext, walk: Walk) => string | null): ValidationRule =>
    (context) => {
      const fragments: Record<string, FragmentDefinitionNode> = {};
      for (const definition of context.getDocument().definitions)
        if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments[definition.name.value] = definition;
      const visitor: ASTVisitor = {
        OperationDefinition(operation) {
          const problem = check(operation, context, { fragments, path: new Set() });
          if (problem) context.reportError(limitError(problem));
          return false;
        },
      };
      return visitor;
    };

  const countIn = (operation: OperationDefinitionNode, walk: Walk, kind: 'alias' | 'directive'): number => {
    let count = 0;
    const visit = (selectionSet: SelectionSetNode | undefined) => {
      if (!selectionSet) return;
      for (const { field } of fieldsOf(selectionSet, walk)) {
        if (kind === 'alias' && field.alias) count += 1;
        if (kind === 'directive') count += field.directives?.length ?? 0;
        visit(field.selectionSet);
      }
    };
    visit(operation.selectionSet);
    return count + (kind === 'directive' ? (operation.directives?.length ?? 0) : 0);
  };

  return [
    rule((operation, _context, walk) => {
      const depth = depthOf(operation.selectionSet, walk, limits.maxDepth);
      return depth > limits.maxDepth ? `The operation is nested deeper than ${limits.maxDepth} levels.` : null;
    }),
    rule((operation, _context, walk) => {
      const roots = [...fieldsOf(operation.selectionSet, walk)].filter(({ field }) => !field.name.value.startsWith('__')).length;
      return roots > limits.maxRootFields ? `The operation asks for ${roots} root fields; at most ${limits.maxRootFields} are allowed.` : null;
    }),
    rule((operation, _context, walk) => {
      const aliases = countIn(operation, walk, 'alias');
      return aliases > limits.maxAliases ? `The operation uses ${aliases} aliases; at most ${limits.maxAliases} are allowed.` : null;
    }),
    rule((operation, _context, walk) => {
      const directives = countIn(operation, walk, 'directive');
      return directives > limits.maxDirectives ? `The operation uses ${directives} directives; at most ${limits.maxDirectives} are allowed.` : null;
    }),
    rule((operation, context, walk) => {
      const root =
        operation.operation === 'mutation'
          ? context.getSchema().getMutationType()
          : operation.operation === 'subscription'
            ? null
            : context.getSchema().getQueryType();
      const cost = costOf(operation.selectionSet, root ?? undefined, context.getSchema(), walk, limits, limits.maxCost);
      return cost > limits.maxCost ? `The operation is estimated to cost more than ${limits.maxCost} (lists count their \`first\` items); ask for less.` : null;
    }),
  ];
}
