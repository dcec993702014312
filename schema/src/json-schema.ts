/** The JSON Schema of the configuration input, generated from the zod schema (never written by hand). */
import { z } from 'zod';
import { configInputSchema } from './config-schema';

export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configInputSchema, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://pop3-iac.invalid/pop3-service.schema.json',
    title: 'POP3 service configuration',
  };
}
