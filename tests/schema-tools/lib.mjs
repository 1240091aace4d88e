// Helpers shared by the schema tools.

/** Reads all of stdin as UTF-8 text. */
export async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Registers every `format` a schema uses that Ajv does not know as an annotation only.
 * schemars annotates numbers with formats such as `uint8` or `double`; JSON Schema leaves
 * unknown formats to the application, and their ranges are already `minimum`/`maximum`.
 */
export function ignoreUnknownFormats(ajv, schema) {
  for (const format of formatsIn(schema)) {
    if (!ajv.formats[format]) ajv.addFormat(format, true);
  }
}

function formatsIn(value, found = new Set()) {
  if (Array.isArray(value)) value.forEach((item) => formatsIn(item, found));
  else if (value && typeof value === "object") {
    if (typeof value.format === "string") found.add(value.format);
    Object.values(value).forEach((item) => formatsIn(item, found));
  }
  return found;
}
