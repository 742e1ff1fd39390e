// The two files an executor rank reads, written only for a plan that passed the one TypeScript
// validation (parsePlan's structure + checkPlanForModel) and with the model's resolved facts attached
// (configs/model-facts.ts), so the Python side asserts shapes and never re-derives or re-validates.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withFacts } from '../../configs/model-facts.ts';
import type { ModelSpec } from '../../configs/model-spec.ts';
import type { Plan } from '../../planner/plan.ts';
import { checkPlanForModel, parsePlan } from '../../planner/plan-io.ts';

export interface RunFiles {
  planPath: string;
  modelPath: string;
}

/** Validates `plan` for `model` (a UniapError naming the fix otherwise) and writes `<name>.plan.json` and `<name>.model.json` under `dir`. */
export function writeRunFiles(dir: string, name: string, plan: Plan, model: ModelSpec): RunFiles {
  const validated = parsePlan(JSON.parse(JSON.stringify(plan)) as unknown, `${name}.plan.json`);
  checkPlanForModel(validated, model, `${name}.plan.json`);
  const planPath = join(dir, `${name}.plan.json`);
  const modelPath = join(dir, `${name}.model.json`);
  writeFileSync(planPath, JSON.stringify(plan));
  writeFileSync(modelPath, JSON.stringify(withFacts(model)));
  return { planPath, modelPath };
}
