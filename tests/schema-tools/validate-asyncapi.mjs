// Validates an AsyncAPI document with the AsyncAPI initiative's parser, then checks message
// payloads with Ajv against the schemas the parser resolved: every example the document
// declares (the parser's AsyncAPI 3 rules do not check examples) and, optionally, sample
// messages such as frames captured from a real server.
//
//   node validate-asyncapi.mjs asyncapi.json [messages.json]
//
// messages.json: [{"message": "<components/messages key>", "payload": {...}}, ...].
// Prints one JSON object: {"diagnostics": [{severity, code, message, path}], "examples":
// [{message, valid, errors}], "messages": [{message, valid, errors}]}. Exits 1 when a
// diagnostic has severity "error", the document could not be parsed, or an example does not
// match its payload schema; 2 on bad usage.
import { readFile } from "node:fs/promises";
import { Parser } from "@asyncapi/parser";
import Ajv from "ajv";
import addFormats from "ajv-formats";
import { ignoreUnknownFormats } from "./lib.mjs";

const [file, messagesFile] = process.argv.slice(2);
if (!file) {
  console.error("usage: node validate-asyncapi.mjs FILE [MESSAGES]");
  process.exit(2);
}
const SEVERITY = ["error", "warning", "information", "hint"];
const { document, diagnostics } = await new Parser().parse(await readFile(file, "utf8"));
const report = {
  diagnostics: diagnostics.map((d) => ({
    severity: SEVERITY[d.severity] ?? String(d.severity),
    code: d.code,
    message: d.message,
    path: d.path.join("/"),
  })),
  examples: [],
  messages: [],
};
let failed = !document || report.diagnostics.some((d) => d.severity === "error");

if (document) {
  // The parser annotates schemas with `x-parser-*` members, so Ajv runs non-strict; AsyncAPI's
  // default schema format is a superset of JSON Schema draft 07, Ajv's default draft.
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const validators = new Map();
  for (const message of document.components().messages()) {
    const schema = message.payload().json();
    ignoreUnknownFormats(ajv, schema);
    validators.set(message.id(), ajv.compile(schema));
  }
  const check = (id, payload) => {
    const validate = validators.get(id);
    if (!validate) return { message: id, valid: false, errors: [`no message ${id}`] };
    const valid = validate(payload);
    return { message: id, valid, errors: valid ? [] : validate.errors };
  };
  for (const message of document.components().messages()) {
    for (const example of message.examples()) {
      const result = check(message.id(), example.payload());
      report.examples.push(result);
      failed ||= !result.valid;
    }
  }
  if (messagesFile) {
    for (const { message, payload } of JSON.parse(await readFile(messagesFile, "utf8"))) {
      report.messages.push(check(message, payload));
    }
  }
}
console.log(JSON.stringify(report, null, 2));
if (failed) {
  console.error(`${file}: invalid`);
  process.exit(1);
}
