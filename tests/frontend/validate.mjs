// The OpenAPI document through an independent validator (swagger-parser: JSON Schema of OpenAPI
// 3.1 plus its own checks, every $ref resolved). Exits non-zero with the reason when invalid.
import SwaggerParser from "@apidevtools/swagger-parser";

const path = process.argv[2];
const api = await SwaggerParser.validate(path);
console.log(`valid: ${api.info.title} ${api.info.version}, ${Object.keys(api.paths).length} paths`);
