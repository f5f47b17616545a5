// The judge list syntax: plain specs stay one judge "judge" of weight 1, named judges with weights,
// and every bad list refused by the --judges setting itself with a message saying what is wrong.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, parseSettings } from "@grpomesh/config";
import { formatWeightedSpecs, parseWeightedSpecs } from "./judge-spec.ts";
import { ORCHESTRATOR_SETTINGS } from "./settings.ts";

test("a plain spec of any kind is one judge named judge with weight 1", () => {
  for (const spec of ["127.0.0.1:50061", "127.0.0.1:1,127.0.0.1:2", "@/tmp/judges.txt", "@/tmp/a=b.txt", "dns:///judge.ns.svc:50061"]) {
    assert.deepEqual(parseWeightedSpecs(spec), [{ name: "judge", weight: 1, spec }]);
    assert.equal(formatWeightedSpecs(parseWeightedSpecs(spec)), spec);
  }
});

test("named judges with weights, in order", () => {
  const specs = parseWeightedSpecs("rule@2=127.0.0.1:1,127.0.0.1:2; solved=@/tmp/f ;penalty_x@-0.5=dns:///p:9;");
  assert.deepEqual(specs, [
    { name: "rule", weight: 2, spec: "127.0.0.1:1,127.0.0.1:2" },
    { name: "solved", weight: 1, spec: "@/tmp/f" },
    { name: "penalty_x", weight: -0.5, spec: "dns:///p:9" },
  ]);
  assert.equal(formatWeightedSpecs(specs), "rule@2=127.0.0.1:1,127.0.0.1:2;solved=@/tmp/f;penalty_x@-0.5=dns:///p:9");
  assert.deepEqual(parseWeightedSpecs(formatWeightedSpecs(specs)), specs);
});

test("bad lists name the judge and the problem", () => {
  const cases: Array<[string, RegExp]> = [
    ["Rule=127.0.0.1:1", /name "Rule" is not 1 to 32 of a-z/],
    [`${"a".repeat(33)}=127.0.0.1:1`, /is not 1 to 32/],
    ["a@x=127.0.0.1:1", /weight "x" is not a finite number/],
    ["a@=127.0.0.1:1", /weight "" is not a finite number/],
    ["a@Infinity=127.0.0.1:1", /weight "Infinity" is not a finite number/],
    ["a@0=127.0.0.1:1", /weight is 0/],
    ["a=", /nothing after "="/],
    ["a=127.0.0.1:1;a@2=127.0.0.1:2", /judge 2 .*the name "a" is used twice/],
    ["127.0.0.1:1;127.0.0.1:2", /"judge" is used twice \(a plain spec is named "judge"\)/],
    ["a=127.0.0.1:1;;b=127.0.0.1:2", /judge 2 .* is empty/],
    ["", /the judge is empty/],
  ];
  for (const [text, pattern] of cases) assert.throws(() => parseWeightedSpecs(text), pattern, text);
});

test("the --judges setting refuses a bad list when settings are parsed, with the parser's message", () => {
  assert.equal(parseSettings(ORCHESTRATOR_SETTINGS, { argv: ["--judges=rule@2=127.0.0.1:1;x=127.0.0.1:2"] }).config.judges, "rule@2=127.0.0.1:1;x=127.0.0.1:2");
  assert.throws(
    () => parseSettings(ORCHESTRATOR_SETTINGS, { argv: ["--judges=rule@0=127.0.0.1:1"] }),
    (err: unknown) => err instanceof ConfigError && /--judges is "rule@0=127\.0\.0\.1:1"; expected judge fleets .*weight is 0/.test(err.message),
  );
});
