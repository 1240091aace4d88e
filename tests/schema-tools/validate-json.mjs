// Validates sample instances against schemas of a JSON Schema bundle with Ajv (draft 2020-12,
// strict mode, formats from ajv-formats).
//
//   node validate-json.mjs < cases.json
//
// Input: {"schema": <bundle>, "cases": [{"ref": "#/properties/actions/properties/echo",
// "data": ...}, ...]}. Output: one JSON array with {"valid": bool, "errors": [...]} per case.
// Exits 1 when the bundle itself is not a valid schema.
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { ignoreUnknownFormats, readStdin } from "./lib.mjs";

const { schema, cases } = JSON.parse(await readStdin());

const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
ignoreUnknownFormats(ajv, schema);
try {
  ajv.addSchema(schema, "bundle");
  ajv.getSchema("bundle");
} catch (err) {
  console.error(`the bundle is not a valid schema: ${err.message}`);
  process.exit(1);
}
const results = cases.map(({ ref, data }) => {
  const validate = ajv.getSchema(`bundle${ref}`);
  if (!validate) throw new Error(`no schema at ${ref}`);
  const valid = validate(data);
  return { valid, errors: valid ? [] : validate.errors };
});
console.log(JSON.stringify(results));

