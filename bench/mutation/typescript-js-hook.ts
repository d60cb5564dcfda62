import { registerHooks } from "node:module";

// Stryker (its sandbox's tsconfig rewrite, its TypeScript checker) uses the JS compiler API of the
// package named `typescript`, even in the checker's native mode, where tsgo (TypeScript 7, the
// `@typescript/native` alias) does the type checking. Our `typescript` is 7, which has no JS API,
// so Stryker's own imports of `typescript` are sent to `typescript-js` (TypeScript 6).
// Loaded with --import into Stryker's processes only (bench/mutation/run.ts).
registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier === "typescript" && context.parentURL?.includes("/node_modules/@stryker-mutator/"))
      return nextResolve("typescript-js", context);
    return nextResolve(specifier, context);
  },
});
