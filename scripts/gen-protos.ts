// Generates runtime/control/generated/uniap.ts from protos/uniap.proto: the wire types (the exact shapes
// @grpc/proto-loader decodes with the options below), the service method tables, and the proto
// descriptor as JSON so the runtime loads the same definitions without reading .proto files.
// The one generator of wire types; its output is never edited by hand. Run after changing the proto:
//   npx tsx scripts/gen-protos.ts          (writes the file)
//   npx tsx scripts/gen-protos.ts --check  (exit 1 when the file is stale)
// runtime/control/wire.test.ts fails when the checked-in output differs from a fresh generation.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import protobuf from 'protobufjs';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const PROTO_FILE = join(repoRoot, 'protos', 'uniap.proto');
export const GENERATED_FILE = join(repoRoot, 'runtime', 'control', 'generated', 'uniap.ts');

const SCALARS: Record<string, string> = {
  double: 'number',
  float: 'number',
  int32: 'number',
  uint32: 'number',
  sint32: 'number',
  fixed32: 'number',
  sfixed32: 'number',
  // int64 family: decoded as JS numbers (LOADER_OPTIONS.longs = Number); exact below 2^53.
  int64: 'number',
  uint64: 'number',
  sint64: 'number',
  fixed64: 'number',
  sfixed64: 'number',
  bool: 'boolean',
  string: 'string',
  bytes: 'Buffer',
};

function docComment(comment: string | null | undefined, indent: string): string {
  if (!comment) return '';
  const lines = comment.split('\n').map((l) => l.trimEnd());
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}`.trimEnd()).join('\n')}\n${indent} */\n`;
}

/**
 * A proto3 `optional` field: protoc and protobufjs give it explicit presence through a synthetic
 * one-member oneof named `_<field>`, and mark it with the `proto3_optional` option.
 * https://github.com/protocolbuffers/protobuf/blob/main/docs/implementing_proto3_presence.md
 */
function isProto3Optional(field: protobuf.Field): boolean {
  return field.options?.['proto3_optional'] === true;
}

function isSyntheticOneof(o: protobuf.OneOf): boolean {
  return o.fieldsArray.length === 1 && isProto3Optional(o.fieldsArray[0]!);
}

function fieldType(field: protobuf.Field): string {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type || resolved instanceof protobuf.Enum) return resolved.name;
  const scalar = SCALARS[field.type];
  if (!scalar) throw new Error(`gen-protos: field ${field.fullName} has unsupported type ${field.type}`);
  return scalar;
}

/** Generates the TypeScript source; pure (reads the proto, writes nothing). */
export function generate(protoFile = PROTO_FILE): string {
  const source = readFileSync(protoFile, 'utf8');
  const parsed = protobuf.parse(source, new protobuf.Root(), { alternateCommentMode: true, keepCase: false });
  const root = parsed.root;
  root.resolveAll();
  const pkgName = parsed.package;
  if (!pkgName) throw new Error('gen-protos: the proto needs a package');
  const pkg = root.lookup(pkgName);
  if (!(pkg instanceof protobuf.Namespace)) throw new Error(`gen-protos: package ${pkgName} not found`);

  const enums: protobuf.Enum[] = [];
  const types: protobuf.Type[] = [];
  const services: protobuf.Service[] = [];
  for (const item of pkg.nestedArray) {
    if (item instanceof protobuf.Type) {
      if (item.nestedArray.length > 0) throw new Error(`gen-protos: nested definitions in ${item.name} are not supported; declare them at package level`);
      types.push(item);
    } else if (item instanceof protobuf.Enum) enums.push(item);
    else if (item instanceof protobuf.Service) services.push(item);
    else throw new Error(`gen-protos: unsupported definition ${item.name}`);
  }

  const out: string[] = [];
  const protoRel = relative(repoRoot, protoFile).split('\\').join('/');
  out.push(
    `// GENERATED FILE - DO NOT EDIT. Produced by scripts/gen-protos.ts from ${protoRel}.`,
    '// Change the proto and run `npx tsx scripts/gen-protos.ts`; runtime/control/wire.test.ts fails when this',
    '// file is stale. Domain types convert to these wire types only in runtime/control/wire.ts.',
    '/* eslint-disable */',
    '',
    `export const PROTO_PACKAGE = '${pkgName}';`,
    '',
    '/**',
    ' * Options for @grpc/proto-loader that produce the shapes declared below: int64 as number, enums as',
    ' * their names, every plain scalar and repeated field present (proto3 defaults), unset message fields',
    ' * null, unset oneof members and unset `optional` fields absent, and the oneof name holding the member',
    ' * that is set. (Decoded messages also carry `_<field>` keys, protobufjs\'s synthetic oneofs of',
    ' * `optional` fields; nothing reads them, so they are not declared.) When encoding, null and absent',
    ' * both leave an `optional` field unset.',
    ' */',
    'export const LOADER_OPTIONS = { longs: Number, enums: String, defaults: true, oneofs: true } as const;',
    '',
  );

  for (const e of enums) {
    out.push(docComment(e.comment, '').trimEnd());
    const names = Object.keys(e.values);
    out.push(`export type ${e.name} = ${names.map((n) => `'${n}'`).join(' | ')};`);
    out.push(`export const ${e.name}Values: readonly ${e.name}[] = [${names.map((n) => `'${n}'`).join(', ')}];`, '');
  }

  for (const t of types) {
    const c = docComment(t.comment, '').trimEnd();
    if (c) out.push(c);
    out.push(`export interface ${t.name} {`);
    for (const f of t.fieldsArray) {
      if (f.map) throw new Error(`gen-protos: map field ${f.fullName} is not supported`);
      const base = fieldType(f);
      const isMessage = f.resolvedType instanceof protobuf.Type;
      const doc = docComment(f.comment, '  ');
      if (doc) out.push(doc.trimEnd());
      if (f.repeated) out.push(`  ${f.name}: ${base}[];`);
      else if (isProto3Optional(f)) out.push(`  ${f.name}?: ${base} | null;`);
      else if (f.partOf) out.push(`  ${f.name}?: ${base};`);
      else if (isMessage) out.push(`  ${f.name}: ${base} | null;`);
      else out.push(`  ${f.name}: ${base};`);
    }
    for (const o of t.oneofsArray) {
      if (isSyntheticOneof(o)) continue;
      out.push(`  /** Which member of oneof \`${o.name}\` is set (absent when none). */`);
      out.push(`  ${o.name}?: ${o.fieldsArray.map((f) => `'${f.name}'`).join(' | ')};`);
    }
    out.push('}', '');
  }

  for (const s of services) {
    const c = docComment(s.comment, '').trimEnd();
    if (c) out.push(c);
    out.push(`export const ${s.name.toUpperCase()}_SERVICE = '${pkgName}.${s.name}';`);
    out.push(`export interface ${s.name}Methods {`);
    for (const m of s.methodsArray) {
      m.resolve();
      const doc = docComment(m.comment, '  ');
      if (doc) out.push(doc.trimEnd());
      out.push(
        `  ${m.name}: { request: ${m.resolvedRequestType?.name ?? m.requestType}; response: ${m.resolvedResponseType?.name ?? m.responseType}; requestStream: ${Boolean(m.requestStream)}; responseStream: ${Boolean(m.responseStream)} };`,
      );
    }
    out.push('}');
    out.push(`export const ${s.name}MethodNames = [${s.methodsArray.map((m) => `'${m.name}'`).join(', ')}] as const;`, '');
  }

  const descriptor = root.toJSON({ keepComments: false });
  out.push('/** The proto definitions as protobufjs JSON, for @grpc/proto-loader `fromJSON`. */');
  out.push(`export const PROTO_DESCRIPTOR: Record<string, unknown> = ${JSON.stringify(descriptor, null, 2)};`, '');
  return out.filter((l, i, a) => !(l === '' && a[i - 1] === '')).join('\n');
}

function main(argv: string[]): void {
  const text = generate();
  if (argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(GENERATED_FILE, 'utf8');
    } catch {
      // missing counts as stale
    }
    if (current !== text) {
      process.stderr.write(`${relative(repoRoot, GENERATED_FILE)} is stale; run \`npx tsx scripts/gen-protos.ts\`\n`);
      process.exit(1);
    }
    process.stdout.write('generated wire types are up to date\n');
    return;
  }
  mkdirSync(dirname(GENERATED_FILE), { recursive: true });
  writeFileSync(GENERATED_FILE, text);
  process.stdout.write(`wrote ${relative(repoRoot, GENERATED_FILE)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
